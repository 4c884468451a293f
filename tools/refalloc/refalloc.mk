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
# clang copy elsewhere this way).

REFALLOC_PREV_GOAL := $(.DEFAULT_GOAL)

REFALLOC_DIR    := tools/refalloc
REFALLOC_SRC    := $(wildcard $(REFALLOC_DIR)/*.c)
REFALLOC_HDR    := $(wildcard $(REFALLOC_DIR)/*.h)
REFALLOC_LIB    ?= build/librefalloc.so
REFALLOC_CFLAGS := -O2 -g -fPIC -shared -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE

.PHONY: refalloc
refalloc: $(REFALLOC_LIB)

$(REFALLOC_LIB): $(REFALLOC_SRC) $(REFALLOC_HDR) $(REFALLOC_DIR)/refalloc.mk
	@mkdir -p $(dir $@)
	$(CC) $(REFALLOC_CFLAGS) -o $@ $(REFALLOC_SRC)

# Standalone, `refalloc` is the default goal; included, the includer's stays.
ifeq ($(words $(MAKEFILE_LIST)),1)
.DEFAULT_GOAL := refalloc
else
.DEFAULT_GOAL := $(REFALLOC_PREV_GOAL)
endif
