/* test_unwind.c - unit tests for user/unwind.c: maps parsing and lookup, and
 * unwinding of real captured stacks. A helper program, compiled by the test
 * into a temporary directory in several ways (-O2 -g without frame pointers,
 * with frame pointers and no PIE, without any unwind tables so only frame
 * pointers work, and through glibc's qsort, which has CFI but no frame
 * pointers), captures its registers and a copy of its stack inside
 * f3 <- f2 <- f1 <- main and saves them with its /proc/self/maps; the test
 * unwinds that after the helper exited and symbolizes the frames (user/symbolize.c).
 * Also: the test's own stack, truncated and garbage stacks, empty maps, the
 * session cache, and the cost per stack (printed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_files.h"
#include "test_own_stack.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "symbols/symbolize.h"
#include "symbols/unwind.h"

#define MAX_FRAMES 64

/* The helper. Lines tagged CAPTURE / CALL_* are found by the test. */
static const char helper_source[] =
	"#include <fcntl.h>\n"
	"#include <stdint.h>\n"
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <unistd.h>\n"
	"#define NOIPA __attribute__((noipa))\n"
	"#define STACK_COPY (16 * 1024)\n"
	"static const char *out_path;\n"
	"static int use_qsort, compared;\n"
	"static char maps[1 << 20];\n"
	"static size_t read_maps(void)\n"
	"{\n"
	"	int fd = open(\"/proc/self/maps\", O_RDONLY);\n"
	"	size_t n = 0;\n"
	"	ssize_t r;\n"
	"	while (n < sizeof(maps) && (r = read(fd, maps + n, sizeof(maps) - n)) > 0)\n"
	"		n += (size_t)r;\n"
	"	close(fd);\n"
	"	return n;\n"
	"}\n"
	"static uint64_t stack_end(uint64_t sp)\n"
	"{\n"
	"	for (const char *p = maps; p && *p; p = strchr(p, '\\n'), p = p ? p + 1 : p) {\n"
	"		unsigned long start, end;\n"
	"		if (sscanf(p, \"%lx-%lx\", &start, &end) == 2 && start <= sp && sp < end)\n"
	"			return end;\n"
	"	}\n"
	"	return sp;\n"
	"}\n"
	"NOIPA static void dump(uint64_t ip, uint64_t sp, uint64_t bp)\n"
	"{\n"
	"	size_t maps_len = read_maps();\n"
	"	uint64_t end = stack_end(sp), len = end - sp < STACK_COPY ? end - sp : STACK_COPY;\n"
	"	uint64_t hdr[5] = { ip, sp, bp, len, maps_len };\n"
	"	FILE *f = fopen(out_path, \"wb\");\n"
	"	if (!f) exit(3);\n"
	"	fwrite(hdr, sizeof(hdr), 1, f);\n"
	"	fwrite((void *)sp, 1, len, f);\n"
	"	fwrite(maps, 1, maps_len, f);\n"
	"	fclose(f);\n"
	"}\n"
	"NOIPA int f3(int x)\n"
	"{\n"
	"	uint64_t ip, sp, bp;\n"
	"	__asm__ volatile(\"mov %%rbp, %2\\n\\tmov %%rsp, %1\\n1:\\tlea 1b(%%rip), %0\" : \"=r\"(ip), \"=r\"(sp), \"=r\"(bp)); /* CAPTURE */\n"
	"	dump(ip, sp, bp);\n"
	"	return x + 1;\n"
	"}\n"
	"NOIPA static int compare_ints(const void *a, const void *b)\n"
	"{\n"
	"	if (compared++ == 0)\n"
	"		f3(1); /* CALL_F3_FROM_QSORT */\n"
	"	return *(const int *)a - *(const int *)b;\n"
	"}\n"
	"NOIPA int f2(int x)\n"
	"{\n"
	"	if (use_qsort) {\n"
	"		int a[8] = { 5, 3, 7, 1, 8, 2, 6, 4 };\n"
	"		qsort(a, 8, sizeof(a[0]), compare_ints); /* CALL_QSORT */\n"
	"		return a[x & 7] + 1;\n"
	"	}\n"
	"	return f3(x * 3) * 2; /* CALL_F3 */\n"
	"}\n"
	"NOIPA int f1(int x)\n"
	"{\n"
	"	return f2(x + 1) + 1; /* CALL_F2 */\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	if (argc < 3)\n"
	"		return 2;\n"
	"	out_path = argv[1];\n"
	"	use_qsort = strcmp(argv[2], \"qsort\") == 0;\n"
	"	int r = f1(argc); /* CALL_F1 */\n"
	"	return r == -1;\n"
	"}\n";

/* How each variant of the helper is built and run. */
enum variant {
	V_NO_FP,      /* -O2 -g -fomit-frame-pointer, PIE */
	V_FP_NOPIE,   /* -O2 -g -fno-omit-frame-pointer -no-pie */
	V_QSORT,      /* as V_NO_FP, f3 called from qsort's comparator */
	V_FP_ONLY,    /* frame pointers, no unwind tables, no -g: only the rbp chain works */
	V_FP_DELETED, /* as V_FP_ONLY, binary deleted after the run: no ELF file, no CFI */
	V_COUNT
};

static const struct {
	const char *name, *cflags, *mode;
	bool delete_binary;
} variants[V_COUNT] = {
	[V_NO_FP] = { "nofp", "-O2 -g -fomit-frame-pointer", "direct", false },
	[V_FP_NOPIE] = { "fp", "-O2 -g -fno-omit-frame-pointer -no-pie", "direct", false },
	[V_QSORT] = { "qsort", "-O2 -g -fomit-frame-pointer", "qsort", false },
	[V_FP_ONLY] = { "fponly",
			"-O2 -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables",
			"direct", false },
	[V_FP_DELETED] = { "fpdeleted",
			   "-O2 -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables",
			   "direct", true },
};

/* What a helper saved. */
struct capture {
	struct unwind_regs regs;
	uint8_t *stack;
	size_t stack_len;
	struct proc_maps *maps;
	char *maps_text;
	size_t maps_len;
};

static char tmpdir[] = "/tmp/fl-unwind-XXXXXX";
static struct capture captures[V_COUNT];


/* The helper's file layout: ip, sp, bp, stack_len, maps_len (u64), stack, maps text. */
static int load_capture(const char *path, struct capture *c)
{
	size_t len;
	char *buf = read_file(path, &len);
	uint64_t hdr[5];

	if (!buf || len < sizeof(hdr))
		return free(buf), -1;
	memcpy(hdr, buf, sizeof(hdr));
	if (len != sizeof(hdr) + hdr[3] + hdr[4])
		return free(buf), -1;
	c->regs = (struct unwind_regs){ hdr[0], hdr[1], hdr[2] };
	c->stack_len = hdr[3];
	c->stack = malloc(c->stack_len + 1);
	memcpy(c->stack, buf + sizeof(hdr), c->stack_len);
	c->maps_len = hdr[4];
	c->maps_text = malloc(c->maps_len + 1);
	memcpy(c->maps_text, buf + sizeof(hdr) + hdr[3], c->maps_len);
	c->maps = proc_maps_parse(c->maps_text, c->maps_len);
	free(buf);
	return c->maps ? 0 : -1;
}

static int build_and_capture(enum variant v)
{
	char src[256], out[256];

	snprintf(src, sizeof(src), "%s/helper.c", tmpdir);
	snprintf(out, sizeof(out), "%s/capture-%s", tmpdir, variants[v].name);
	if (run("gcc %s -o %s/helper-%s %s", variants[v].cflags, tmpdir, variants[v].name, src) != 0 ||
	    run("%s/helper-%s %s %s", tmpdir, variants[v].name, out, variants[v].mode) != 0 ||
	    (variants[v].delete_binary && run("rm %s/helper-%s", tmpdir, variants[v].name) != 0))
		return -1;
	return load_capture(out, &captures[v]);
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	if (write_text_file(tmpdir, "helper.c", helper_source))
		return -1;
	for (int v = 0; v < V_COUNT; v++)
		if (build_and_capture(v) != 0)
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int v = 0; v < V_COUNT; v++) {
		free(captures[v].stack);
		free(captures[v].maps_text);
		proc_maps_free(captures[v].maps);
	}
	run("rm -rf %s", tmpdir);
	return 0;
}

/* The line in helper_source containing tag. */
static int helper_line(const char *tag)
{
	const char *hit = strstr(helper_source, tag);
	int line = 1;

	assert_non_null(hit);
	for (const char *p = helper_source; p < hit; p++)
		line += *p == '\n';
	return line;
}

/* ---- maps ---- */

static const char sample_maps[] =
	"55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234    /usr/bin/prog\n"
	"55d0c0a01000-55d0c0a05000 r-xp 00001000 08:01 1234    /usr/bin/prog\n"
	"this is not a maps line\n"
	"55d0c0c00000-55d0c0c21000 rw-p 00000000 00:00 0       [heap]\n"
	"7f0000000000-7f0000001000 r-xp 00002000 fd:00 99  /tmp/a file with spaces (deleted)\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]"; /* no final newline */

static void test_maps_parse_find(void **state)
{
	struct proc_maps *m = proc_maps_parse(sample_maps, strlen(sample_maps));
	const struct proc_map *e;

	(void)state;
	assert_non_null(m);
	assert_int_equal(proc_maps_count(m), 6);
	e = proc_maps_find(m, 0x55d0c0a01234);
	assert_non_null(e);
	assert_int_equal(e->start, 0x55d0c0a01000);
	assert_int_equal(e->end, 0x55d0c0a05000);
	assert_int_equal(e->offset, 0x1000);
	assert_int_equal(e->inode, 1234);
	assert_string_equal(e->perms, "r-xp");
	assert_string_equal(e->path, "/usr/bin/prog");
	assert_null(proc_maps_find(m, 0x55d0c0a05000));
	assert_null(proc_maps_find(m, 0));
	assert_null(proc_maps_find(m, 0x55d0c09fffff));
	assert_string_equal(proc_maps_find(m, 0x55d0c0c00000)->path, "[heap]");
	assert_string_equal(proc_maps_find(m, 0xffffffffff600fff)->path, "[vsyscall]");
	assert_string_equal(proc_maps_at(m, 5)->path, "[vsyscall]");
	assert_null(proc_maps_at(m, 6));
	proc_maps_free(m);
}

static void test_maps_file_path(void **state)
{
	struct proc_maps *m = proc_maps_parse(sample_maps, strlen(sample_maps));
	char buf[128];
	uint64_t id = proc_maps_id(m);

	(void)state;
	assert_int_equal(proc_maps_file_path(m, proc_maps_find(m, 0x7f0000000000), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/a file with spaces");
	assert_int_equal(proc_maps_file_path(m, proc_maps_find(m, 0x55d0c0c00000), buf, sizeof(buf)), -1);
	assert_int_equal(proc_maps_set_root(m, "/proc/77/root"), 0);
	assert_true(proc_maps_id(m) != id);
	assert_int_equal(proc_maps_file_path(m, proc_maps_find(m, 0x55d0c0a00000), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/proc/77/root/usr/bin/prog");
	assert_int_equal(proc_maps_file_path(m, proc_maps_find(m, 0x55d0c0a00000), buf, 20), -1);
	assert_int_equal(proc_maps_set_root(m, ""), 0);
	assert_int_equal(proc_maps_file_path(m, proc_maps_find(m, 0x55d0c0a00000), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/usr/bin/prog");
	proc_maps_free(m);
}

static void test_maps_junk(void **state)
{
	static const char *junk[] = {
		"", "\n\n\n", "-", "1-", "2-1 r-xp 0 0:0 0 /x", "zz-zz r-xp 0 0:0 0",
		"1000-2000 r-xp 0 0:0 /x", "1000-2000 r-x 0 0:0 0 /x",
		"10000000000000000000-2 r-xp 0 0:0 0 /x", "1000-2000 r-xp 0 0:0 0",
	};
	char random_text[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		struct proc_maps *m = proc_maps_parse(junk[i], strlen(junk[i]));

		assert_non_null(m);
		assert_int_equal(proc_maps_count(m), i == 9); /* only the last line is valid */
		assert_null(proc_maps_find(m, 0x1000 + (i == 9 ? 0x1000 : 0)));
		proc_maps_free(m);
	}
	srand(1);
	for (int round = 0; round < 200; round++) {
		struct proc_maps *m;

		for (size_t i = 0; i < sizeof(random_text); i++)
			random_text[i] = "0123456789abcdef- :/\nrwxp"[rand() % 25];
		m = proc_maps_parse(random_text, sizeof(random_text));
		assert_non_null(m);
		proc_maps_find(m, (uint64_t)rand());
		proc_maps_free(m);
	}
	proc_maps_free(proc_maps_parse(NULL, 0));
}

/* ---- unwinding helpers ---- */

struct frames {
	uint64_t ips[MAX_FRAMES];
	struct symbol_info info[MAX_FRAMES];
	int count;
};

static void unwind_and_symbolize(struct unwinder *u, struct symbolizer *s, const struct capture *c,
				 struct frames *f)
{
	f->count = unwind_stack(u, c->maps, &c->regs, c->stack, c->stack_len, f->ips, MAX_FRAMES);
	for (int i = 0; i < f->count; i++)
		symbolize(s, c->maps, unwind_call_site(f->ips, i), &f->info[i]);
}

static void print_frames(const char *title, const struct frames *f)
{
	char line[512];

	print_message("%s: %d frames\n", title, f->count);
	for (int i = 0; i < f->count; i++) {
		symbol_info_format(&f->info[i], line, sizeof(line));
		print_message("  #%-2d 0x%012" PRIx64 " %s\n", i, f->ips[i], line);
	}
}

/* Index of the first frame at or after from whose function is name, or -1. */
static int find_frame(const struct frames *f, int from, const char *name)
{
	for (int i = from; i < f->count; i++)
		if (strcmp(f->info[i].function, name) == 0)
			return i;
	return -1;
}

static void assert_frame_line(const struct frames *f, int i, const char *tag)
{
	assert_non_null(f->info[i].file);
	assert_non_null(strstr(f->info[i].file, "helper.c"));
	assert_int_equal(f->info[i].line, helper_line(tag));
}

/* frames 0..3 are f3, f2, f1, main, with their lines when built -g */
static void check_direct(enum variant v, bool with_lines)
{
	struct unwinder *u = unwinder_new();
	struct symbolizer *s = symbolizer_new();
	struct frames f;
	static const char *expected[] = { "f3", "f2", "f1", "main" };

	unwind_and_symbolize(u, s, &captures[v], &f);
	print_frames(variants[v].name, &f);
	assert_true(f.count >= 4);
	assert_int_equal(f.ips[0], captures[v].regs.ip);
	for (int i = 0; i < 4; i++)
		assert_string_equal(f.info[i].function, expected[i]);
	if (with_lines) {
		assert_frame_line(&f, 0, "CAPTURE");
		assert_frame_line(&f, 1, "CALL_F3 ");
		assert_frame_line(&f, 2, "CALL_F2");
		assert_frame_line(&f, 3, "CALL_F1");
	}
	symbolizer_free(s);
	unwinder_free(u);
}

/* ---- unwinding tests ---- */

static void test_unwind_no_frame_pointers(void **state)
{
	(void)state;
	check_direct(V_NO_FP, true);
}

static void test_unwind_frame_pointers_no_pie(void **state)
{
	(void)state;
	check_direct(V_FP_NOPIE, true);
}

static void test_unwind_frame_pointers_only(void **state)
{
	(void)state;
	check_direct(V_FP_ONLY, false);
}

/* No CFI because no ELF file: no file at all under the root prefix, or the
 * binary deleted (libc still there). The rbp chain still gives f3..main. */
static void test_unwind_frame_pointers_without_files(void **state)
{
	const struct capture *c = &captures[V_FP_ONLY], *deleted = &captures[V_FP_DELETED];
	struct proc_maps *nowhere = proc_maps_parse(c->maps_text, c->maps_len);
	struct unwinder *u = unwinder_new();
	struct symbolizer *s = symbolizer_new();
	struct frames with_files, without, del;

	(void)state;
	assert_int_equal(proc_maps_set_root(nowhere, "/nonexistent"), 0);
	unwind_and_symbolize(u, s, c, &with_files);
	without.count = unwind_stack(u, nowhere, &c->regs, c->stack, c->stack_len, without.ips, MAX_FRAMES);
	assert_true(without.count >= 4);
	assert_memory_equal(without.ips, with_files.ips, 4 * sizeof(uint64_t));

	unwind_and_symbolize(u, s, deleted, &del);
	print_frames("binary deleted", &del);
	assert_true(del.count >= 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(del.info[i].function, "[unknown]");
		assert_non_null(strstr(del.info[i].object, "helper-fpdeleted"));
		/* the same code as helper-fponly: the same places in the file */
		assert_int_equal(del.info[i].object_offset, with_files.info[i].object_offset);
	}
	assert_string_equal(del.info[4].function, "__libc_start_call_main");
	symbolizer_free(s);
	unwinder_free(u);
	proc_maps_free(nowhere);
}

/* f3 <- compare_ints <- glibc's qsort internals <- f2 <- f1 <- main */
static void test_unwind_through_glibc(void **state)
{
	struct unwinder *u = unwinder_new();
	struct symbolizer *s = symbolizer_new();
	struct frames f;
	int f2;

	(void)state;
	unwind_and_symbolize(u, s, &captures[V_QSORT], &f);
	print_frames("through qsort", &f);
	assert_true(f.count >= 6);
	assert_string_equal(f.info[0].function, "f3");
	assert_string_equal(f.info[1].function, "compare_ints");
	assert_frame_line(&f, 1, "CALL_F3_FROM_QSORT");
	f2 = find_frame(&f, 2, "f2");
	assert_true(f2 > 2); /* at least one glibc frame in between */
	for (int i = 2; i < f2; i++)
		assert_non_null(strstr(f.info[i].object, "libc.so"));
	assert_frame_line(&f, f2, "CALL_QSORT");
	assert_true(f2 + 2 < f.count);
	assert_string_equal(f.info[f2 + 1].function, "f1");
	assert_string_equal(f.info[f2 + 2].function, "main");
	symbolizer_free(s);
	unwinder_free(u);
}

/* Test code, built with ASan and frame pointers: capture this very stack. */
struct self_capture {
	struct unwind_regs regs;
	uint8_t stack[16384];
	size_t stack_len;
};

__attribute__((noinline)) static int self_f3(struct self_capture *c, const struct proc_maps *m)
{
	uint64_t ip, sp, bp, end;

	__asm__ volatile("mov %%rbp, %2\n\tmov %%rsp, %1\n1:\tlea 1b(%%rip), %0"
			 : "=r"(ip), "=r"(sp), "=r"(bp));
	c->regs = (struct unwind_regs){ ip, sp, bp };
	end = stack_end_of(m, sp);
	c->stack_len = end - sp < sizeof(c->stack) ? end - sp : sizeof(c->stack);
	copy_stack(c->stack, sp, c->stack_len);
	return (int)c->stack_len;
}

__attribute__((noinline)) static int self_f2(struct self_capture *c, const struct proc_maps *m)
{
	return self_f3(c, m) + 1;
}

__attribute__((noinline)) static int self_f1(struct self_capture *c, const struct proc_maps *m)
{
	return self_f2(c, m) + 1;
}

static void test_unwind_own_stack(void **state)
{
	struct proc_maps *m = own_maps();
	struct self_capture *c = calloc(1, sizeof(*c));
	struct unwinder *u = unwinder_new();
	struct symbolizer *s = symbolizer_new();
	struct frames f;
	struct capture cap;

	(void)state;
	assert_true(self_f1(c, m) > 2);
	cap = (struct capture){ .regs = c->regs, .stack = c->stack, .stack_len = c->stack_len, .maps = m };
	unwind_and_symbolize(u, s, &cap, &f);
	print_frames("own stack", &f);
	assert_true(f.count >= 5);
	assert_string_equal(f.info[0].function, "self_f3");
	assert_string_equal(f.info[1].function, "self_f2");
	assert_string_equal(f.info[2].function, "self_f1");
	assert_string_equal(f.info[3].function, "test_unwind_own_stack");
	assert_non_null(strstr(f.info[3].file, "test_unwind.c"));
	assert_true(find_frame(&f, 4, "main") > 3);
	symbolizer_free(s);
	unwinder_free(u);
	free(c);
	proc_maps_free(m);
}

/* A shorter copy gives a shorter stack, and never reads past it. */
static void test_unwind_truncated_stack(void **state)
{
	const struct capture *c = &captures[V_NO_FP];
	struct unwinder *u = unwinder_new();
	uint64_t full[MAX_FRAMES], part[MAX_FRAMES];
	int n_full = unwind_stack(u, c->maps, &c->regs, c->stack, c->stack_len, full, MAX_FRAMES);

	(void)state;
	for (size_t len = 0; len <= c->stack_len; len += len < 256 ? 8 : 512) {
		uint8_t *copy = malloc(len + 1); /* exact size: ASan catches overreads */
		int n;

		memcpy(copy, c->stack, len);
		n = unwind_stack(u, c->maps, &c->regs, copy, len, part, MAX_FRAMES);
		assert_true(n >= 1 && n <= n_full);
		assert_memory_equal(part, full, 8); /* ips[0] is always regs.ip */
		free(copy);
	}
	assert_int_equal(unwind_stack(u, c->maps, &c->regs, NULL, 0, part, MAX_FRAMES), 1);
	assert_int_equal(unwind_stack(u, c->maps, &c->regs, c->stack, c->stack_len, part, 2), 2);
	assert_memory_equal(part, full, 2 * sizeof(uint64_t));
	assert_int_equal(unwind_stack(u, c->maps, &c->regs, c->stack, c->stack_len, part, 0), 0);
	unwinder_free(u);
}

static uint64_t random_u64(void)
{
	return (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
}

/* An address in an executable mapping of m, or anywhere. */
static uint64_t random_ip(const struct proc_maps *m)
{
	const struct proc_map *e = proc_maps_at(m, (size_t)rand() % proc_maps_count(m));

	if (e->perms[2] != 'x' || rand() % 8 == 0)
		return random_u64();
	return e->start + (uint64_t)rand() % (e->end - e->start);
}

/* Random registers and stack words (some pointing into the stack, some at
 * code) with real maps; also empty maps. Must not crash, must stay in bounds. */
static void test_unwind_garbage(void **state)
{
	const struct capture *c = &captures[V_QSORT];
	struct proc_maps *empty = proc_maps_parse("", 0);
	struct unwinder *u = unwinder_new();
	uint64_t ips[MAX_FRAMES + 1], words[512];

	(void)state;
	srand(7);
	for (int round = 0; round < 3000; round++) {
		const struct proc_maps *m = round % 10 == 0 ? empty : c->maps;
		struct unwind_regs regs = { random_ip(c->maps), c->regs.sp, c->regs.sp + (uint64_t)(rand() % 4096) };
		size_t nwords = (size_t)rand() % 512;
		int n;

		for (size_t i = 0; i < nwords; i++) {
			int kind = rand() % 3;
			words[i] = kind == 0 ? random_u64() : kind == 1 ? regs.sp + (uint64_t)(rand() % 4096) : random_ip(c->maps);
		}
		ips[MAX_FRAMES] = 0xfeed;
		n = unwind_stack(u, m, &regs, words, nwords * 8, ips, MAX_FRAMES);
		assert_true(n >= 1 && n <= MAX_FRAMES);
		assert_int_equal(ips[0], regs.ip);
		assert_int_equal(ips[MAX_FRAMES], 0xfeed);
	}
	proc_maps_free(empty);
	unwinder_free(u);
}

/* Results do not depend on which sessions are cached; more map sets than slots. */
static void test_unwind_session_cache(void **state)
{
	struct unwinder *u = unwinder_new();
	uint64_t first[V_COUNT][MAX_FRAMES], again[MAX_FRAMES];
	int counts[V_COUNT];

	(void)state;
	for (int v = 0; v < V_COUNT; v++) {
		const struct capture *c = &captures[v];

		counts[v] = unwind_stack(u, c->maps, &c->regs, c->stack, c->stack_len, first[v], MAX_FRAMES);
	}
	for (int round = 0; round < 3; round++) {
		for (int v = V_COUNT - 1; v >= 0; v--) {
			const struct capture *c = &captures[v];
			struct proc_maps *fresh = proc_maps_parse("", 0); /* a new map set: evicts one */

			assert_int_equal(unwind_stack(u, c->maps, &c->regs, c->stack, c->stack_len, again, MAX_FRAMES),
					 counts[v]);
			assert_memory_equal(again, first[v], (size_t)counts[v] * sizeof(uint64_t));
			unwind_stack(u, fresh, &c->regs, c->stack, c->stack_len, again, MAX_FRAMES);
			proc_maps_free(fresh);
		}
	}
	unwinder_free(u);
}

/* ---- cost ---- */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The shortest copy of c's stack from which frames 0..frame unwind. */
static size_t stack_needed(struct unwinder *u, const struct capture *c, int frame)
{
	uint64_t ips[MAX_FRAMES];
	size_t len = 0;

	while (len < c->stack_len && unwind_stack(u, c->maps, &c->regs, c->stack, len, ips, MAX_FRAMES) <= frame)
		len += 8;
	return len;
}

static void test_cost_per_stack(void **state)
{
	const struct capture *c = &captures[V_QSORT];
	struct unwinder *u = unwinder_new();
	struct symbolizer *s = symbolizer_new();
	struct frames f;
	enum { WARM = 2000, COLD = 10 };
	double t0, unwind_us, both_us, cold_us;
	int main_frame;

	(void)state;
	unwind_and_symbolize(u, s, c, &f); /* opens everything */
	t0 = now_us();
	for (int i = 0; i < WARM; i++)
		f.count = unwind_stack(u, c->maps, &c->regs, c->stack, c->stack_len, f.ips, MAX_FRAMES);
	unwind_us = (now_us() - t0) / WARM;
	t0 = now_us();
	for (int i = 0; i < WARM; i++)
		unwind_and_symbolize(u, s, c, &f);
	both_us = (now_us() - t0) / WARM;
	main_frame = find_frame(&f, 0, "main");
	t0 = now_us();
	for (int i = 0; i < COLD; i++) {
		struct unwinder *cu = unwinder_new();
		struct symbolizer *cs = symbolizer_new();

		unwind_and_symbolize(cu, cs, c, &f);
		symbolizer_free(cs);
		unwinder_free(cu);
	}
	cold_us = (now_us() - t0) / COLD;
	print_message("cost, %d-frame stack through qsort: unwind %.1f us; unwind + symbolize (cached) %.1f us; "
		      "first stack of a map set (opens objects) %.0f us\n", f.count, unwind_us, both_us, cold_us);
	print_message("stack copy needed to reach main: %zu bytes\n", stack_needed(u, c, main_frame));
	symbolizer_free(s);
	unwinder_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_parse_find),
		cmocka_unit_test(test_maps_file_path),
		cmocka_unit_test(test_maps_junk),
		cmocka_unit_test(test_unwind_no_frame_pointers),
		cmocka_unit_test(test_unwind_frame_pointers_no_pie),
		cmocka_unit_test(test_unwind_frame_pointers_only),
		cmocka_unit_test(test_unwind_frame_pointers_without_files),
		cmocka_unit_test(test_unwind_through_glibc),
		cmocka_unit_test(test_unwind_own_stack),
		cmocka_unit_test(test_unwind_truncated_stack),
		cmocka_unit_test(test_unwind_garbage),
		cmocka_unit_test(test_unwind_session_cache),
		cmocka_unit_test(test_cost_per_stack),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
