# faultline — build, test, demo, bench.
#   make          build build/faultline (installs Debian packages first: make deps)
#   make test     unit tests (cmocka, under ASan/UBSan) + end-to-end tests (prove, as root)
#   make demo     record the bundled example and print its report
#   make bench    benchmarks (bench/)
#   make deps     the Debian packages of everything above (deps-build: the build's only)
#   make fresh-check  make demo + make test in a fresh Debian 12 chroot (tests/fresh/run.sh)
#   make vm-test  end-to-end checks under qemu on Debian 12's 6.1 kernel (tests/vm/run.sh)
# gcc unless CC is given: make's own default (cc) is clang on a Debian
# without gcc, and clang drops malloc/free pairs whose memory nothing reads
# (examples/fragmentation then makes 6 calls, not 8, and claim 8 fails).
#   make fuzz     the libFuzzer harnesses of tests/fuzz/, FUZZ_SECONDS (60) each
ifeq ($(origin CC),default)
CC       := gcc
endif
CLANG    ?= clang
BPFTOOL  ?= bpftool
BUILD    := build
WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -Iinclude -I$(BUILD) -Iuser -D_GNU_SOURCE -MMD -MP
LDLIBS   := -lbpf -ldw -lelf -lz -lzstd -lm -lstdc++ -pthread
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

USER_SRC := $(shell find user -name '*.c' | sort)
LIB_SRC  := $(filter-out user/cmd/%,$(USER_SRC))
BPF_SRC  := $(wildcard bpf/*.bpf.c)
SKELS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
DEPS_STAMP := $(BUILD)/.deps-ok
DEPS_HTML_STAMP := $(BUILD)/.deps-html-ok
DEPS_BUILD_STAMP := $(BUILD)/.deps-build-ok
REFALLOC_DEPS := $(DEPS_BUILD_STAMP)

include tools/refalloc/refalloc.mk

.PHONY: all deps deps-build deps-vm fresh-check vm-test test unit e2e demo bench clean clang-check fuzz fuzz-build fuzz-replay
.SECONDARY: $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRC))
PRELOAD_VARIANTS := jemalloc:FLP_JEMALLOC je:FLP_JE_PREFIX mimalloc:FLP_MIMALLOC
PRELOAD_LIBS := $(BUILD)/libfaultline-preload.so $(foreach v,$(PRELOAD_VARIANTS),$(BUILD)/libfaultline-preload-$(firstword $(subst :, ,$(v))).so)
all: $(BUILD)/faultline $(PRELOAD_LIBS) $(EXAMPLES) $(REFALLOC_LIB)
# The in-process fast path (preload/): interposes the allocator's entry
# points in the traced command (--probes preload). No sanitizers: it runs
# inside the target, inside malloc. One library per family of native entry
# points (hooks.c): the plain one, and -jemalloc, -je (a je_-prefixed
# jemalloc) and -mimalloc, which add that allocator's own API.
PRELOAD_SRC := $(wildcard preload/*.c)
PRELOAD_DEPS := $(PRELOAD_SRC) $(wildcard preload/*.h) include/fl_preload.h include/fl_funcs.h include/faultline.h
PRELOAD_CC = $(CC) -O2 -g $(WARN) -std=gnu11 -Iinclude -D_GNU_SOURCE -fPIC -shared -fasynchronous-unwind-tables \
	  -fvisibility=hidden -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc
$(BUILD)/libfaultline-preload.so: $(PRELOAD_DEPS) | $(DEPS_BUILD_STAMP)
	@mkdir -p $(BUILD)
	$(PRELOAD_CC) -o $@ $(PRELOAD_SRC)
$(BUILD)/libfaultline-preload-%.so: $(PRELOAD_DEPS) | $(DEPS_BUILD_STAMP)
	@mkdir -p $(BUILD)
	$(PRELOAD_CC) -D$(lastword $(subst :, ,$(filter $*:%,$(PRELOAD_VARIANTS)))) -o $@ $(PRELOAD_SRC)

# Debian packages, checked (and installed when missing) by the two stamps
# below; quiet when all are present. BUILD_PKGS: what `make all` calls and
# links (compilers, bpftool, libraries, sys/sdt.h for refalloc). TEST_PKGS:
# what `make test`, `make demo` and `make bench` run, on a fresh Debian 12
# (debootstrap minbase) as on a full install: the ASan build's
# llvm-symbolizer (llvm), pgrep (procps), prove (perl), readelf/objdump
# (binutils), the reference tools the tests compare against.
BUILD_PKGS := make gcc libc6-dev clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libzstd-dev \
              systemtap-sdt-dev pkg-config xxd libjs-d3
TEST_PKGS  := chromium nodejs libcmocka-dev libclang-rt-14-dev strace linux-perf bpftrace heaptrack sqlite3 python3 perl procps gzip tar \
              coreutils util-linux bc time xz-utils zstd jq binutils libc6-dbg git \
              g++ libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 libunwind8
# (libunwind8: the preload library's unwinder for --stacks=all, loaded by it at run time)
# BENCH_PKGS: what `make bench` runs besides (bench/redis.sh: Debian's redis-server links jemalloc)
BENCH_PKGS := redis-server redis-tools
# install-missing STAMP PKG...: apt-get installs the packages dpkg does not
# have; a bpftool that already runs (Ubuntu's comes with linux-tools) counts.
define install-missing
	@mkdir -p $(BUILD)
	@missing=$$(for p in $(2); do \
	  [ $$p = bpftool ] && bpftool version >/dev/null 2>&1 && continue; \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to install packages:" $$missing >&2; exit 1; fi; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
	    { echo "make deps: apt-get install failed for:" $$missing >&2; exit 1; }; \
	fi; touch $(1)
endef
deps: $(DEPS_STAMP) $(DEPS_HTML_STAMP)
deps-build: $(DEPS_BUILD_STAMP)
# The browser driver of the HTML page's test and bench (playwright-core, from
# the npm registry at the version tests/html/package-lock.json pins; it drives
# Debian's chromium, it downloads no browser).
# npm: Debian's package, unless the installed nodejs brings its own (nodesource's does).
$(DEPS_HTML_STAMP): tests/html/package.json tests/html/package-lock.json | $(DEPS_STAMP)
	@command -v npm >/dev/null || $(MAKE) --no-print-directory $(BUILD)/.deps-npm-ok
	cd tests/html && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@
$(BUILD)/.deps-npm-ok:
	$(call install-missing,$@,npm)
$(DEPS_BUILD_STAMP): Makefile
	$(call install-missing,$@,$(BUILD_PKGS))
$(DEPS_STAMP): $(DEPS_BUILD_STAMP) Makefile
	$(call install-missing,$@,$(TEST_PKGS))
$(BUILD)/.deps-bench-ok: $(DEPS_STAMP) Makefile
	$(call install-missing,$@,$(BENCH_PKGS))

$(BUILD)/vmlinux.h: | $(DEPS_BUILD_STAMP)
	@mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h) $(BUILD)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -Iinclude -I$(BUILD) -I/usr/include/$(shell uname -m)-linux-gnu -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: user/%.c $(SKELS) | $(DEPS_BUILD_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The HTML page's own script and style and the library it draws with (Debian's
# libjs-d3), embedded in faultline as C arrays, with the SHA-256 each <script>
# is allowed by in the page's Content-Security-Policy (user/output/html/assets.h).
D3_JS       := /usr/share/javascript/d3/d3.min.js
HTML_ASSETS := page_js:user/output/html/page.js page_css:user/output/html/page.css d3_js:$(D3_JS)
$(BUILD)/gen/html_assets.c: user/output/html/page.js user/output/html/page.css Makefile | $(DEPS_BUILD_STAMP)
	@mkdir -p $(dir $@)
	@{ echo '/* generated by make from user/output/html/ and $(D3_JS): do not edit */'; \
	  for a in $(HTML_ASSETS); do n=$${a%%:*}; f=$${a#*:}; \
	    echo "const unsigned char html_$$n[] = {"; xxd -i < $$f; echo ", 0x00 };"; \
	    echo "const unsigned long html_$${n}_len = sizeof(html_$$n) - 1;"; \
	    echo "const char html_$${n}_sha256[] = \"$$(sha256sum < $$f | cut -d' ' -f1 | xxd -r -p | base64 -w0)\";"; \
	  done; } > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/html_assets.o: $(BUILD)/gen/html_assets.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -c $< -o $@

$(BUILD)/faultline: $(patsubst user/%.c,$(BUILD)/obj/%.o,$(USER_SRC)) $(BUILD)/obj/gen/html_assets.o tests/layers.sh
	@bash tests/layers.sh
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LDLIBS)

# Sanitized build of the userspace parts, for the tests.
$(BUILD)/asan/%.o: user/%.c $(SKELS) | $(DEPS_BUILD_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/faultline-asan: $(patsubst user/%.c,$(BUILD)/asan/%.o,$(USER_SRC)) $(BUILD)/obj/gen/html_assets.o
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

# The library below the subcommands (every layer but cmd/), sanitized: what
# the unit tests link (each takes the members it needs).
$(BUILD)/libfaultline-asan.a: $(patsubst user/%.c,$(BUILD)/asan/%.o,$(LIB_SRC))
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/test_%: tests/unit/test_%.c $(BUILD)/libfaultline-asan.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $< $(BUILD)/libfaultline-asan.a $(LDLIBS) -lcmocka

$(BUILD)/examples/%: examples/%.c | $(DEPS_BUILD_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -Wall -Wextra -Werror -o $@ $<

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

e2e: $(DEPS_STAMP) $(DEPS_HTML_STAMP) $(BUILD)/faultline $(BUILD)/faultline-asan $(EXAMPLES)
	prove -v tests/e2e/

# The userspace code must also build warning-free with clang, and keep the
# layers' dependency rule (docs/DESIGN.md; tests/layers.sh).
clang-check: $(SKELS) | $(DEPS_BUILD_STAMP)
	@for f in $(USER_SRC) $(UNIT_SRC); do clang -fsyntax-only $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(BUILD) -Iuser $$f || exit 1; done
	@for d in $(patsubst %,-D%,$(foreach v,$(PRELOAD_VARIANTS),$(lastword $(subst :, ,$(v))))) -UNONE; do \
	  for f in $(PRELOAD_SRC); do clang -fsyntax-only $(WARN) $$d -std=gnu11 -D_GNU_SOURCE -Iinclude $$f || exit 1; done; done
	@bash tests/layers.sh && bash tests/layers.sh --self-test

# The one test command (README, .ci/run): unit tests, then end-to-end tests.
test: $(DEPS_STAMP) $(DEPS_HTML_STAMP)
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(BUILD)/faultline-asan clang-check
	@unit_rc=0; for t in $(UNIT_BIN); do $$t || unit_rc=1; done; \
	$(MAKE) --no-print-directory fuzz-replay || unit_rc=1; \
	prove -v tests/e2e/ tests/refalloc/; e2e_rc=$$?; \
	[ $$unit_rc = 0 ] && [ $$e2e_rc = 0 ]

# The fresh-machine test and the kernel matrix (host tools: debootstrap, qemu, cpio).
VM_PKGS := debootstrap qemu-system-x86 cpio python3
DEPS_VM_STAMP := $(BUILD)/.deps-vm-ok
deps-vm: $(DEPS_VM_STAMP)
$(DEPS_VM_STAMP): Makefile
	$(call install-missing,$@,$(VM_PKGS))

fresh-check: | $(DEPS_VM_STAMP)
	bash tests/fresh/run.sh

vm-test: all | $(DEPS_VM_STAMP)
	bash tests/vm/run.sh

# libFuzzer harnesses (tests/fuzz/): the library built with clang's
# -fsanitize=fuzzer-no-link,address,undefined, one binary per harness.
# tests/fuzz/corpus/NAME/ holds each one's seeds and every input that once
# crashed it (replayed by make test); new inputs go to build/fuzz/corpus/NAME.
FUZZ_SECONDS ?= 60
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN   := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g $(WARN) -std=gnu11 -Iinclude -I$(BUILD) -Iuser -D_GNU_SOURCE $(FUZZ_SAN)

$(BUILD)/fuzz/obj/%.o: user/%.c $(SKELS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/libfaultline-fuzz.a: $(patsubst user/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC))
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h tests/fuzz/fuzz_replay.h $(BUILD)/fuzz/libfaultline-fuzz.a
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libfaultline-fuzz.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

# Each harness for FUZZ_SECONDS, one after the other; a crash stops make
# with the input in build/fuzz/crash-*.
fuzz: $(FUZZ_BIN)
	@for n in $(FUZZ_NAMES); do mkdir -p $(BUILD)/fuzz/corpus/$$n; \
	  echo "make fuzz: fuzz_$$n for $(FUZZ_SECONDS) s"; \
	  $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
	    -artifact_prefix=$(BUILD)/fuzz/ -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus/$$n tests/fuzz/corpus/$$n >$(BUILD)/fuzz/fuzz-$$n.log 2>&1; rc=$$?; \
	  grep -E '^#[0-9]+.*(INITED|DONE)|^stat::number_of_executed_units|ERROR|SUMMARY|Test unit written' $(BUILD)/fuzz/fuzz-$$n.log; \
	  [ $$rc = 0 ] || { echo "make fuzz: fuzz_$$n failed (log: $(BUILD)/fuzz/fuzz-$$n.log)"; exit 1; }; done

# The kept inputs (seeds and past crashes), each run once: part of make test.
fuzz-replay: $(FUZZ_BIN)
	@for n in $(FUZZ_NAMES); do \
	  $(BUILD)/fuzz/fuzz_$$n -rss_limit_mb=2048 -timeout=30 tests/fuzz/corpus/$$n/* >$(BUILD)/fuzz/replay-$$n.log 2>&1 \
	    && echo "fuzz-replay: fuzz_$$n: $$(ls tests/fuzz/corpus/$$n | wc -l) inputs, no crash" \
	    || { echo "fuzz-replay: fuzz_$$n failed:"; tail -30 $(BUILD)/fuzz/replay-$$n.log; exit 1; }; done

demo: all
	./$(BUILD)/faultline record -o $(BUILD)/demo.data -- ./$(BUILD)/examples/seed_claims
	./$(BUILD)/faultline report $(BUILD)/demo.data

bench: all | $(DEPS_STAMP) $(DEPS_HTML_STAMP) $(BUILD)/.deps-bench-ok
	bash bench/run.sh
	bash bench/preload.sh | tee $(BUILD)/preload.txt
	bash bench/html.sh | tee $(BUILD)/html-bench.txt
	bash bench/other_pid.sh 3 20000000 | tee $(BUILD)/other_pid.txt
	BENCH_CLOCK=cpu bash bench/allocators.sh | tee $(BUILD)/allocators.txt
	bash bench/redis.sh | tee $(BUILD)/redis.txt

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/fuzz $(BUILD)/tests $(BUILD)/examples $(BUILD)/*.o $(BUILD)/*.a $(BUILD)/*.skel.h $(BUILD)/faultline*

# header dependencies, as the compiler found them
-include $(shell find $(BUILD)/obj $(BUILD)/asan $(BUILD)/fuzz -name '*.d' 2>/dev/null)
