# tools/refalloc/refalloc.mk - builds build/librefalloc.so, the reference
# allocator (tools/refalloc/README.md).
#
#   standalone, from the repository root:  make -f tools/refalloc/refalloc.mk
#   from the top Makefile:                 include tools/refalloc/refalloc.mk
#                                          (then `make refalloc`, or add
#                                          $(REFALLOC_LIB) to a prerequisite list)
#
# Including it does not change the including Makefile's default goal.
# CC=clang works too. REFALLOC_LIB may be overridden (the tests build a
# clang copy elsewhere this way). It needs <sys/sdt.h> (Debian:
# systemtap-sdt-dev): an includer sets REFALLOC_DEPS to the target that
# installs it (the top Makefile: its deps stamp); standalone, a check says
# which package is missing.

REFALLOC_PREV_GOAL := $(.DEFAULT_GOAL)

REFALLOC_DIR    := tools/refalloc
REFALLOC_SRC    := $(wildcard $(REFALLOC_DIR)/*.c)
REFALLOC_HDR    := $(wildcard $(REFALLOC_DIR)/*.h)
REFALLOC_LIB    ?= build/librefalloc.so
REFALLOC_CFLAGS := -O2 -g -fPIC -shared -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE

REFALLOC_DEPS ?= refalloc-check-sdt

.PHONY: refalloc refalloc-check-sdt
refalloc: $(REFALLOC_LIB)

refalloc-check-sdt:
	@echo '#include <sys/sdt.h>' | $(CC) -E -x c - >/dev/null 2>&1 || \
	  { echo "refalloc: <sys/sdt.h> not found: install systemtap-sdt-dev (or: make deps)" >&2; exit 1; }

$(REFALLOC_LIB): $(REFALLOC_SRC) $(REFALLOC_HDR) $(REFALLOC_DIR)/refalloc.mk | $(REFALLOC_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(REFALLOC_CFLAGS) -o $@ $(REFALLOC_SRC)

# Standalone, `refalloc` is the default goal; included, the includer's stays.
ifeq ($(words $(MAKEFILE_LIST)),1)
.DEFAULT_GOAL := refalloc
else
.DEFAULT_GOAL := $(REFALLOC_PREV_GOAL)
endif
