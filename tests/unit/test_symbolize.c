/* test_symbolize.c - unit tests for user/symbolize.c: the test's own code and
 * glibc (with file:line when libc6-dbg is installed), and a helper program
 * compiled by the test into a temporary directory, run once to save its maps
 * and the address of target_function, then symbolized after it exited in
 * several forms: with DWARF; --strip-all with the debug file under a
 * temporary build-id directory; --strip-debug; without a build-id, found by
 * .gnu_debuglink; under a root prefix; placed by hand-written maps at another
 * bias. Also build-ids, the caches, formatting, and bad input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "test_files.h"
#include "test_own_stack.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elf.h"
#include "symbols/symbolize.h"
#include "symbols/unwind.h"

static const char helper_source[] =
	"#include <inttypes.h>\n"
	"#include <stdint.h>\n"
	"#include <stdio.h>\n"
	"__attribute__((noipa)) int target_function(int x) { return x * 7 + 1; } /* TARGET */\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	FILE *out = fopen(argv[1], \"w\"), *maps = fopen(\"/proc/self/maps\", \"r\");\n"
	"	char buf[4096];\n"
	"	size_t n;\n"
	"	if (argc < 2 || !out || !maps)\n"
	"		return 2;\n"
	"	fprintf(out, \"%\" PRIx64 \"\\n\", (uint64_t)(uintptr_t)&target_function);\n"
	"	while ((n = fread(buf, 1, sizeof(buf), maps)) > 0)\n"
	"		fwrite(buf, 1, n, out);\n"
	"	return fclose(out) != 0 || target_function(argc) == 0;\n"
	"}\n";
#define TARGET_LINE 4

/* The forms of the helper. */
enum form {
	F_DWARF,       /* -O2 -g */
	F_STRIP_ALL,   /* strip --strip-all; debug file at <debug root>/.build-id/xx/yyyy.debug */
	F_STRIP_DEBUG, /* strip --strip-debug (keeps .symtab); same debug file */
	F_DEBUGLINK,   /* no build-id, strip --strip-all, .gnu_debuglink to .debug/prog-debuglink.debug */
	F_COUNT
};

static const char *const form_names[F_COUNT] = { "dwarf", "stripall", "stripdebug", "debuglink" };

/* What a run of the helper saved. */
struct run_result {
	uint64_t target;     /* run-time address of target_function */
	char *maps_text;
	struct proc_maps *maps;
};

static char tmpdir[] = "/tmp/fl-symbolize-XXXXXX";
static char debug_root[64];
static char build_id[128]; /* of the helper, F_DWARF..F_STRIP_DEBUG */
static struct run_result runs[F_COUNT];


/* Shell commands making prog-<form> (and its debug file) from prog.c. */
static int build_form(enum form f)
{
	const char *d = tmpdir;
	char dwarf_path[128];

	switch (f) {
	case F_DWARF:
		return run("gcc -O2 -g -o %s/prog-dwarf %s/prog.c", d, d);
	case F_STRIP_ALL:
		snprintf(dwarf_path, sizeof(dwarf_path), "%s/prog-dwarf", d);
		if (elf_build_id_hex(dwarf_path, build_id, sizeof(build_id)) < 4)
			return -1;
		return run("mkdir -p %s/.build-id/%.2s && objcopy --only-keep-debug %s/prog-dwarf "
			   "%s/.build-id/%.2s/%s.debug && strip --strip-all -o %s/prog-stripall %s/prog-dwarf",
			   debug_root, build_id, d, debug_root, build_id, build_id + 2, d, d);
	case F_STRIP_DEBUG:
		return run("strip --strip-debug -o %s/prog-stripdebug %s/prog-dwarf", d, d);
	case F_DEBUGLINK:
		return run("gcc -O2 -g -Wl,--build-id=none -o %s/prog-debuglink %s/prog.c && mkdir -p %s/.debug && "
			   "objcopy --only-keep-debug %s/prog-debuglink %s/.debug/prog-debuglink.debug && "
			   "strip --strip-all %s/prog-debuglink && "
			   "objcopy --add-gnu-debuglink=%s/.debug/prog-debuglink.debug %s/prog-debuglink",
			   d, d, d, d, d, d, d, d);
	default:
		return -1;
	}
}

/* The helper's output: target_function's address in hex, a newline, its maps. */
static int run_form(enum form f)
{
	char out[128];
	size_t len;
	char *text;
	struct run_result *r = &runs[f];

	snprintf(out, sizeof(out), "%s/out-%s", tmpdir, form_names[f]);
	if (run("%s/prog-%s %s", tmpdir, form_names[f], out) != 0 || !(text = read_file(out, &len)))
		return -1;
	r->target = strtoull(text, NULL, 16);
	r->maps_text = text;
	r->maps = proc_maps_parse(text, len);
	return r->target && r->maps ? 0 : -1;
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(debug_root, sizeof(debug_root), "%s/debug", tmpdir);
	if (write_text_file(tmpdir, "prog.c", helper_source))
		return -1;
	for (int i = 0; i < F_COUNT; i++)
		if (build_form(i) != 0 || run_form(i) != 0)
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < F_COUNT; i++) {
		free(runs[i].maps_text);
		proc_maps_free(runs[i].maps);
	}
	run("rm -rf %s", tmpdir);
	return 0;
}

static void assert_target(const struct symbol_info *si, uint64_t offset, bool with_line)
{
	assert_string_equal(si->function, "target_function");
	assert_int_equal(si->offset, offset);
	if (with_line) {
		assert_non_null(si->file);
		assert_non_null(strstr(si->file, "prog.c"));
		assert_int_equal(si->line, TARGET_LINE);
	} else {
		assert_null(si->file);
		assert_int_equal(si->line, 0);
	}
}

/* symbolize runs[f].target + offset with a new symbolizer, debug root or default */
static void symbolize_target(enum form f, const char *root, uint64_t offset, struct symbolizer **s,
			     struct symbol_info *si)
{
	*s = symbolizer_new();
	assert_non_null(*s);
	if (root)
		assert_int_equal(symbolizer_set_debug_root(*s, root), 0);
	assert_int_equal(symbolize(*s, runs[f].maps, runs[f].target + offset, si), 0);
}

/* ---- the test's own code and glibc ---- */

static const int local_target_line = __LINE__ + 1;
__attribute__((noinline)) int local_target(int x) { return x * 3 + 1; }

static void test_own_function(void **state)
{
	struct proc_maps *m = own_maps();
	struct symbolizer *s = symbolizer_new();
	struct symbol_info si;
	char exe_id[128];

	(void)state;
	assert_int_equal(symbolize(s, m, (uint64_t)(uintptr_t)&local_target, &si), 0);
	assert_string_equal(si.function, "local_target");
	assert_int_equal(si.offset, 0);
	assert_non_null(si.file);
	assert_non_null(strstr(si.file, "test_symbolize.c"));
	assert_int_equal(si.line, local_target_line);
	assert_true(elf_build_id_hex("/proc/self/exe", exe_id, sizeof(exe_id)) > 0);
	assert_string_equal(si.build_id, exe_id);
	assert_int_equal(symbolize(s, m, (uint64_t)(uintptr_t)&local_target + 1, &si), 0);
	assert_string_equal(si.function, "local_target");
	assert_int_equal(si.offset, 1);
	symbolizer_free(s);
	proc_maps_free(m);
}

static bool file_exists(const char *path)
{
	return access(path, R_OK) == 0;
}

/* glibc's own qsort (not a sanitizer's interceptor); file:line from libc6-dbg if installed */
static void test_glibc_function(void **state)
{
	struct proc_maps *m = own_maps();
	struct symbolizer *s = symbolizer_new();
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	uint64_t qsort_addr = (uint64_t)(uintptr_t)dlsym(libc, "qsort");
	struct symbol_info si;
	char path[4096], id[128], debug_file[256];

	(void)state;
	assert_true(qsort_addr != 0);
	assert_int_equal(symbolize(s, m, qsort_addr + 2, &si), 0);
	assert_string_equal(si.function, "qsort");
	assert_int_equal(si.offset, 2);
	assert_non_null(strstr(si.object, "libc.so.6"));
	assert_int_equal(proc_maps_file_path(m, proc_maps_find(m, qsort_addr), path, sizeof(path)), 0);
	assert_true(elf_build_id_hex(path, id, sizeof(id)) > 0);
	assert_string_equal(si.build_id, id);
	snprintf(debug_file, sizeof(debug_file), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	if (file_exists(debug_file)) {
		assert_non_null(si.file);
		assert_non_null(strstr(si.file, ".c"));
		assert_true(si.line > 0);
	} else {
		print_message("no %s (libc6-dbg): no file:line for glibc\n", debug_file);
	}
	dlclose(libc);
	symbolizer_free(s);
	proc_maps_free(m);
}

/* ---- the helper in its forms ---- */

static void test_with_dwarf(void **state)
{
	struct symbolizer *s;
	struct symbol_info si;

	(void)state;
	symbolize_target(F_DWARF, NULL, 0, &s, &si);
	assert_target(&si, 0, true);
	assert_string_equal(si.build_id, build_id);
	assert_non_null(strstr(si.object, "prog-dwarf"));
	symbolizer_free(s);
}

static void test_strip_all_by_build_id(void **state)
{
	struct symbolizer *s;
	struct symbol_info si;

	(void)state;
	symbolize_target(F_STRIP_ALL, debug_root, 3, &s, &si);
	assert_target(&si, 3, true);
	assert_string_equal(si.build_id, build_id);
	symbolizer_free(s);
	/* the default debug root has no such file: nothing but the build-id */
	symbolize_target(F_STRIP_ALL, NULL, 3, &s, &si);
	assert_string_equal(si.function, "[unknown]");
	assert_null(si.file);
	assert_string_equal(si.build_id, build_id);
	symbolizer_free(s);
}

static void test_strip_debug(void **state)
{
	struct symbolizer *s;
	struct symbol_info si;

	(void)state;
	symbolize_target(F_STRIP_DEBUG, NULL, 0, &s, &si); /* .symtab only */
	assert_target(&si, 0, false);
	symbolizer_free(s);
	symbolize_target(F_STRIP_DEBUG, debug_root, 0, &s, &si);
	assert_target(&si, 0, true);
	symbolizer_free(s);
}

static void test_debuglink_without_build_id(void **state)
{
	struct symbolizer *s;
	struct symbol_info si;
	char id[128];
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/prog-debuglink", tmpdir);
	assert_int_equal(elf_build_id_hex(path, id, sizeof(id)), -1);
	symbolize_target(F_DEBUGLINK, NULL, 0, &s, &si);
	assert_target(&si, 0, true);
	assert_null(si.build_id);
	symbolizer_free(s);
}

/* Two files with one build-id are one object: opened once, from the first path. */
static void test_one_object_per_build_id(void **state)
{
	struct symbolizer *s = symbolizer_new();
	struct symbol_info dwarf, stripped;

	(void)state;
	assert_int_equal(symbolize(s, runs[F_DWARF].maps, runs[F_DWARF].target, &dwarf), 0);
	assert_int_equal(symbolize(s, runs[F_STRIP_ALL].maps, runs[F_STRIP_ALL].target, &stripped), 0);
	assert_target(&stripped, 0, true); /* from prog-dwarf's object, debug root default */
	assert_ptr_equal(stripped.build_id, dwarf.build_id);
	assert_ptr_equal(stripped.function, dwarf.function); /* the same cached result */
	assert_non_null(strstr(stripped.object, "prog-stripall"));
	symbolizer_free(s);
}

/* The maps of the F_DWARF run with every path of the helper replaced. */
static struct proc_maps *maps_with_path(const char *new_path)
{
	const char *text = runs[F_DWARF].maps_text, *old_path;
	char old[128], *out = malloc(strlen(text) * 4 + 1), *o = out;
	struct proc_maps *m;

	snprintf(old, sizeof(old), "%s/prog-dwarf", tmpdir);
	text = strchr(text, '\n') + 1; /* skip the address line */
	while ((old_path = strstr(text, old))) {
		memcpy(o, text, (size_t)(old_path - text));
		o += old_path - text;
		o = stpcpy(o, new_path);
		text = old_path + strlen(old);
	}
	strcpy(o, text);
	m = proc_maps_parse(out, strlen(out));
	free(out);
	return m;
}

static void test_root_prefix(void **state)
{
	struct proc_maps *m = maps_with_path("/opt/fl-nonexistent/bin/prog");
	struct symbolizer *s = symbolizer_new();
	struct symbol_info si;
	char root[128];

	(void)state;
	assert_int_equal(symbolize(s, m, runs[F_DWARF].target, &si), 0);
	assert_string_equal(si.function, "[unknown]");
	assert_null(si.build_id);
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	assert_int_equal(run("mkdir -p %s/opt/fl-nonexistent/bin && cp %s/prog-dwarf %s/opt/fl-nonexistent/bin/prog",
			     root, tmpdir, root), 0);
	assert_int_equal(proc_maps_set_root(m, root), 0);
	assert_int_equal(symbolize(s, m, runs[F_DWARF].target, &si), 0);
	assert_target(&si, 0, true);
	assert_string_equal(si.object, "/opt/fl-nonexistent/bin/prog");
	symbolizer_free(s);
	proc_maps_free(m);
}

/* The helper's lowest mapping (file offset 0) and its executable one. */
static void helper_mappings(const struct proc_maps *m, const struct proc_map **first,
			    const struct proc_map **text)
{
	*first = *text = NULL;
	for (size_t i = 0; i < proc_maps_count(m); i++) {
		const struct proc_map *e = proc_maps_at(m, i);

		if (!strstr(e->path, "prog-dwarf"))
			continue;
		if (!*first)
			*first = e;
		if (!*text && e->perms[2] == 'x')
			*text = e;
	}
	assert_non_null(*first);
	assert_non_null(*text);
	assert_int_equal((*first)->offset, 0);
}

/* Hand-written maps placing the helper's text alone at another address: the
 * bias comes from the PT_LOAD holding the mapping's file offset. */
static void test_bias_from_text_mapping_only(void **state)
{
	const struct proc_map *first, *text;
	uint64_t new_start = 0x7f1234500000 + 0x10000, vaddr, addr;
	char maps_text[512];
	struct proc_maps *m;
	struct symbolizer *s = symbolizer_new();
	struct symbol_info si;

	(void)state;
	helper_mappings(runs[F_DWARF].maps, &first, &text);
	vaddr = runs[F_DWARF].target - first->start; /* PIE: bias = start of the offset-0 mapping */
	addr = new_start + (vaddr - (text->start - first->start));
	snprintf(maps_text, sizeof(maps_text),
		 "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " 08:01 %" PRIu64 " %s\n"
		 "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " 08:01 %" PRIu64 " %s\n",
		 new_start, new_start + (text->end - text->start), text->offset, text->inode, text->path,
		 new_start + 0x100000, new_start + 0x101000, (uint64_t)0x4000000, text->inode, text->path);
	m = proc_maps_parse(maps_text, strlen(maps_text));
	assert_int_equal(symbolize(s, m, addr + 5, &si), 0);
	assert_target(&si, 5, true);
	assert_int_equal(si.object_offset, addr + 5 - new_start + text->offset);
	/* a file offset in no PT_LOAD: no bias, nothing but the object */
	assert_int_equal(symbolize(s, m, new_start + 0x100010, &si), 0);
	assert_string_equal(si.function, "[unknown]");
	assert_string_equal(si.build_id, build_id);
	assert_int_equal(si.object_offset, 0x4000010);
	symbolizer_free(s);
	proc_maps_free(m);
}

/* ---- caches, formatting, build-ids, bad input ---- */

static void test_cache_returns_same_strings(void **state)
{
	struct symbolizer *s = symbolizer_new();
	struct symbol_info a, b;

	(void)state;
	assert_int_equal(symbolize(s, runs[F_DWARF].maps, runs[F_DWARF].target, &a), 0);
	assert_int_equal(symbolize(s, runs[F_DWARF].maps, runs[F_DWARF].target, &b), 0);
	assert_ptr_equal(a.function, b.function);
	assert_ptr_equal(a.file, b.file);
	assert_memory_equal(&a, &b, sizeof(a));
	symbolizer_free(s);
}

static void test_format(void **state)
{
	char buf[256];
	struct symbol_info full = { "f3", 0x1a, "helper.c", 12, "/bin/x", NULL, 0x1234 };
	struct symbol_info no_line = { "qsort", 0x10, NULL, 0, "/lib/libc.so.6", NULL, 0x4000 };
	struct symbol_info unknown = { "[unknown]", 0, NULL, 0, "/lib/x.so", NULL, 0x1234 };
	struct symbol_info anon = { "[unknown]", 0, NULL, 0, "", NULL, 0x20 };

	(void)state;
	symbol_info_format(&full, buf, sizeof(buf));
	assert_string_equal(buf, "f3+0x1a (helper.c:12)");
	symbol_info_format(&no_line, buf, sizeof(buf));
	assert_string_equal(buf, "qsort+0x10 (/lib/libc.so.6)");
	symbol_info_format(&unknown, buf, sizeof(buf));
	assert_string_equal(buf, "[unknown] (/lib/x.so+0x1234)");
	symbol_info_format(&anon, buf, sizeof(buf));
	assert_string_equal(buf, "[unknown] ([anon]+0x20)");
	assert_true(symbol_info_format(&full, buf, 4) > 4);
	assert_string_equal(buf, "f3+");
}

static void test_format_unknown(void **state)
{
	static const char vdso[] = "1000-2000 r-xp 00003000 00:00 0 [vdso]\n";
	struct proc_maps *m = proc_maps_parse(vdso, strlen(vdso));
	struct symbolizer *s = symbolizer_new();
	struct symbol_info si;
	char buf[128];

	(void)state;
	assert_int_equal(symbolize(s, m, 0x1010, &si), 0);
	symbol_info_format(&si, buf, sizeof(buf));
	assert_string_equal(buf, "[unknown] ([vdso]+0x3010)");
	assert_int_equal(symbolize(s, m, 0x3000, &si), -1);
	symbol_info_format(&si, buf, sizeof(buf));
	assert_string_equal(buf, "[unknown] ([anon]+0x0)");
	symbolizer_free(s);
	proc_maps_free(m);
}

static void test_build_id_hex(void **state)
{
	char path[128], expected[128], id[128], cmd[256];
	FILE *p;

	(void)state;
	snprintf(path, sizeof(path), "%s/prog-dwarf", tmpdir);
	snprintf(cmd, sizeof(cmd), "readelf -n %s | sed -n 's/.*Build ID: *//p'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(expected, sizeof(expected), p));
	pclose(p);
	expected[strcspn(expected, "\n")] = '\0';
	assert_int_equal(elf_build_id_hex(path, id, sizeof(id)), (int)strlen(expected));
	assert_string_equal(id, expected);
	assert_int_equal(elf_build_id_hex(path, id, strlen(expected)), -1); /* no room for the NUL */
	assert_int_equal(elf_build_id_hex(path, id, strlen(expected) + 1), (int)strlen(expected));
	snprintf(path, sizeof(path), "%s/prog.c", tmpdir);
	assert_int_equal(elf_build_id_hex(path, id, sizeof(id)), -1);
	assert_int_equal(elf_build_id_hex("/nonexistent", id, sizeof(id)), -1);
	assert_int_equal(elf_build_id_hex(tmpdir, id, sizeof(id)), -1);
}

/* Not file-backed, not ELF, missing, a directory, no mapping at all. */
static void test_bad_mappings(void **state)
{
	char text[1024];
	struct proc_maps *m, *empty = proc_maps_parse(NULL, 0);
	struct symbolizer *s = symbolizer_new();
	struct symbol_info si;

	(void)state;
	snprintf(text, sizeof(text),
		 "10000-20000 rw-p 00000000 00:00 0\n"
		 "20000-30000 r-xp 00000000 08:01 5 %s/prog.c\n"
		 "30000-40000 r-xp 00000000 08:01 6 /nonexistent/lib.so (deleted)\n"
		 "40000-50000 r-xp 00000000 08:01 7 %s\n"
		 "50000-60000 rw-s 00000000 00:05 8 /dev/zero\n",
		 tmpdir, tmpdir);
	m = proc_maps_parse(text, strlen(text));
	for (uint64_t addr = 0x10000; addr < 0x60000; addr += 0x10000) {
		assert_int_equal(symbolize(s, m, addr + 0x10, &si), 0);
		assert_string_equal(si.function, "[unknown]");
		assert_null(si.file);
		assert_null(si.build_id);
		assert_int_equal(si.object_offset, 0x10);
	}
	assert_string_equal(si.object, "/dev/zero");
	assert_int_equal(symbolize(s, m, 0x60000, &si), -1);
	assert_int_equal(symbolize(s, m, 0, &si), -1);
	assert_int_equal(symbolize(s, empty, 0x10000, &si), -1);
	assert_string_equal(si.function, "[unknown]");
	assert_null(si.object);
	symbolizer_free(s);
	proc_maps_free(m);
	proc_maps_free(empty);
}

/* Random addresses in the test's own address space: never crash. */
static void test_random_addresses(void **state)
{
	struct proc_maps *m = own_maps();
	struct symbolizer *s = symbolizer_new();
	struct symbol_info si;
	char buf[512];

	(void)state;
	srand(3);
	for (int i = 0; i < 20000; i++) {
		const struct proc_map *e = proc_maps_at(m, (size_t)rand() % proc_maps_count(m));
		uint64_t addr = e->start + ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % (e->end - e->start);

		assert_int_equal(symbolize(s, m, addr, &si), 0);
		assert_non_null(si.function);
		symbol_info_format(&si, buf, sizeof(buf));
	}
	symbolizer_free(s);
	proc_maps_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_function),
		cmocka_unit_test(test_glibc_function),
		cmocka_unit_test(test_with_dwarf),
		cmocka_unit_test(test_strip_all_by_build_id),
		cmocka_unit_test(test_strip_debug),
		cmocka_unit_test(test_debuglink_without_build_id),
		cmocka_unit_test(test_one_object_per_build_id),
		cmocka_unit_test(test_root_prefix),
		cmocka_unit_test(test_bias_from_text_mapping_only),
		cmocka_unit_test(test_cache_returns_same_strings),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_unknown),
		cmocka_unit_test(test_build_id_hex),
		cmocka_unit_test(test_bad_mappings),
		cmocka_unit_test(test_random_addresses),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
