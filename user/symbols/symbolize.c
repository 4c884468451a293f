/* symbolize.c - owns the symbolizer: the opened objects and the lookup caches.
 *
 * Three levels, each cached:
 *   mapping -> object and load bias  (a small direct-mapped memo keyed by map set and entry)
 *   file (opened path, inode) -> object  (hash table; the file is opened once to read its build-id)
 *   object (build-id) + ELF address -> symbol, file:line  (a hash table per object)
 * An object is a libdw Dwfl session holding that one file, reported at bias 0
 * so that its addresses are the ELF's own p_vaddr addresses; libdw finds the
 * symbol table (.symtab, else the debug file's, else .dynsym) and the separate
 * debug file (build-id, then .gnu_debuglink) itself, through the debug path
 * ":.debug:<debug root>". Function symbols are copied into a sorted array on
 * the object's first lookup; file:line comes from libdw's line tables.
 */
#include "symbols/elf.h"
#include "symbols/symbolize.h"

#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_BUCKETS 256
#define MAPPING_MEMO 64
#define MIN_RESULT_BUCKETS 64

static const char unknown_function[] = "[unknown]";

/* One cached lookup. */
struct sym_result {
	uint64_t vaddr;   /* ELF address in the object */
	char *function;   /* NULL if no symbol covers it */
	uint64_t offset;
	char *file;       /* NULL without line info */
	int line;
	struct sym_result *next;
};

/* A function symbol; names point into the object's symbol table. */
struct func_symbol {
	uint64_t addr, size;
	const char *name;
	int rank; /* among aliases at one address the lowest wins */
};

/* One ELF object, by build-id (by path and inode if it has none). */
struct sym_object {
	char *key;
	char *build_id;   /* hex, or NULL */
	Dwfl *dwfl;
	Dwfl_Module *mod; /* NULL if the file is not a readable ELF file */
	struct func_symbol *functions; /* sorted by addr, one per addr; read on first lookup */
	size_t function_count;
	bool functions_read;
	struct sym_result **results;
	size_t result_buckets, result_count;
	struct sym_object *next;
};

/* A file as a mapping names it. */
struct sym_file {
	char *path;       /* with the maps' root prefix */
	uint64_t inode;
	struct sym_object *obj;
	struct sym_file *next;
};

/* Which object, at which bias, a mapping of one map set holds. */
struct mapping_memo {
	uint64_t maps_id; /* 0: unused */
	const struct proc_map *map;
	struct sym_object *obj; /* NULL if not file-backed or out of memory */
	uint64_t bias;
	bool bias_known;
};

struct symbolizer {
	struct sym_object *objects;
	struct sym_file *files[FILE_BUCKETS];
	struct mapping_memo memo[MAPPING_MEMO];
	Dwfl_Callbacks dwfl_callbacks;
	char *debuginfo_path;
};

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	return x ^ x >> 33;
}

static uint64_t hash_path(const char *path, uint64_t inode)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 0x100000001b3ull;
	return hash_u64(h ^ inode);
}

/* ---- objects ---- */

static void results_free(struct sym_object *o)
{
	for (size_t b = 0; b < o->result_buckets; b++) {
		for (struct sym_result *r = o->results[b], *next; r; r = next) {
			next = r->next;
			free(r->function);
			free(r->file);
			free(r);
		}
	}
	free(o->results);
}

static void object_free(struct sym_object *o)
{
	results_free(o);
	free(o->functions);
	if (o->dwfl)
		dwfl_end(o->dwfl);
	free(o->key);
	free(o->build_id);
	free(o);
}

static struct sym_object *object_by_key(const struct symbolizer *s, const char *key)
{
	for (struct sym_object *o = s->objects; o; o = o->next)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

/* Hands fd to a new Dwfl holding just this file at bias 0; closes it on failure. */
static void object_load(struct symbolizer *s, struct sym_object *o, const char *path, int fd)
{
	o->dwfl = dwfl_begin(&s->dwfl_callbacks);
	if (!o->dwfl) {
		close(fd);
		return;
	}
	dwfl_report_begin(o->dwfl);
	o->mod = dwfl_report_elf(o->dwfl, path, path, fd, 0, true);
	if (!o->mod)
		close(fd);
	dwfl_report_end(o->dwfl, NULL, NULL);
}

static struct sym_object *object_new(struct symbolizer *s, const char *key, const char *build_id)
{
	struct sym_object *o = calloc(1, sizeof(*o));

	if (!o || !(o->key = strdup(key)) || (build_id && !(o->build_id = strdup(build_id)))) {
		if (o)
			free(o->key);
		free(o);
		return NULL;
	}
	o->next = s->objects;
	s->objects = o;
	return o;
}

/* The object for the file at path: an existing one with its build-id, or a
 * new one. NULL only on out of memory. */
static struct sym_object *object_open(struct symbolizer *s, const char *path, uint64_t inode)
{
	char build_id[256], key[PATH_MAX + 32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
	bool is_elf = elf && elf_kind(elf) == ELF_K_ELF;
	bool has_id = is_elf && elf_build_id_hex_of(elf, build_id, sizeof(build_id)) > 0;
	struct sym_object *o;

	elf_end(elf);
	if (has_id)
		snprintf(key, sizeof(key), "%s", build_id);
	else
		snprintf(key, sizeof(key), "%s#%" PRIu64, path, inode);
	o = object_by_key(s, key);
	if (!o && (o = object_new(s, key, has_id ? build_id : NULL)) && is_elf) {
		object_load(s, o, path, fd);
		return o;
	}
	if (fd >= 0)
		close(fd);
	return o;
}

/* ---- files ---- */

static struct sym_object *object_for_file(struct symbolizer *s, const char *path, uint64_t inode)
{
	struct sym_file **bucket = &s->files[hash_path(path, inode) % FILE_BUCKETS];
	struct sym_file *f;

	for (f = *bucket; f; f = f->next)
		if (f->inode == inode && strcmp(f->path, path) == 0)
			return f->obj;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return NULL;
	}
	f->inode = inode;
	f->obj = object_open(s, path, inode);
	f->next = *bucket;
	*bucket = f;
	return f->obj;
}

/* ---- mappings ---- */

static const struct mapping_memo *mapping_info(struct symbolizer *s, const struct proc_maps *m,
					       const struct proc_map *e)
{
	uint64_t maps_id = proc_maps_id(m);
	struct mapping_memo *memo = &s->memo[hash_u64(maps_id * 31 + e->start) % MAPPING_MEMO];
	char path[PATH_MAX];
	GElf_Addr module_bias;
	Elf *elf;

	if (memo->maps_id == maps_id && memo->map == e)
		return memo;
	memset(memo, 0, sizeof(*memo));
	if (proc_maps_file_path(m, e, path, sizeof(path)) == 0)
		memo->obj = object_for_file(s, path, e->inode);
	if (memo->obj && memo->obj->mod && (elf = dwfl_module_getelf(memo->obj->mod, &module_bias)))
		memo->bias_known = elf_load_bias(elf, e->start, e->offset, &memo->bias) == 0;
	memo->maps_id = maps_id;
	memo->map = e;
	return memo;
}

/* ---- lookups ---- */

/* ---- function symbols ----
 * libdw picks the table (.symtab, the debug file's, .dynsym, .gnu_debugdata),
 * but its address lookup scans the whole table (~250 us in libc): the
 * functions are copied once into a sorted array and binary-searched. */

/* Global before weak before local; then the default version ("x@@V") or an
 * unversioned name before "x@V"; then fewer leading underscores. */
static int alias_rank(const GElf_Sym *sym, const char *name)
{
	int bind = GELF_ST_BIND(sym->st_info);
	const char *at = strchr(name, '@');
	int underscores = (int)strspn(name, "_");

	return (bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2) * 100 +
	       (at && at[1] != '@' ? 10 : 0) + (underscores < 9 ? underscores : 9);
}

static int compare_functions(const void *a, const void *b)
{
	const struct func_symbol *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->name, y->name);
}

static bool is_function(const GElf_Sym *sym, const char *name)
{
	int type = GELF_ST_TYPE(sym->st_info);

	return name && *name && sym->st_shndx != SHN_UNDEF && (type == STT_FUNC || type == STT_GNU_IFUNC);
}

static void read_functions(struct sym_object *o)
{
	int count = dwfl_module_getsymtab(o->mod);
	size_t kept = 0;

	o->functions_read = true;
	if (count <= 0 || !(o->functions = calloc((size_t)count, sizeof(*o->functions))))
		return;
	for (int i = 0; i < count; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(o->mod, i, &sym, &addr, NULL, NULL, NULL);

		if (is_function(&sym, name))
			o->functions[kept++] = (struct func_symbol){ addr, sym.st_size, name, alias_rank(&sym, name) };
	}
	qsort(o->functions, kept, sizeof(*o->functions), compare_functions);
	o->function_count = 0; /* keep the best-ranked alias per address */
	for (size_t i = 0; i < kept; i++)
		if (i == 0 || o->functions[i].addr != o->functions[i - 1].addr)
			o->functions[o->function_count++] = o->functions[i];
}

/* The function containing vaddr: the last one starting at or before it, if
 * vaddr is inside its size (or it has none, as some assembly has not). */
static const struct func_symbol *function_at(struct sym_object *o, uint64_t vaddr)
{
	size_t lo = 0, hi;
	const struct func_symbol *f;

	if (!o->functions_read)
		read_functions(o);
	hi = o->function_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->functions[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	f = &o->functions[lo - 1];
	return f->size == 0 || vaddr - f->addr < f->size ? f : NULL;
}

static void lookup_in_object(struct sym_object *o, struct sym_result *r)
{
	const struct func_symbol *f = function_at(o, r->vaddr);
	Dwfl_Line *line = dwfl_module_getsrc(o->mod, r->vaddr);
	const char *file = NULL;
	int lineno = 0;

	if (line)
		file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
	/* .symtab may name versioned symbols "__libc_start_main@@GLIBC_2.34" */
	r->function = f ? strndup(f->name, strcspn(f->name, "@")) : NULL;
	r->offset = f ? r->vaddr - f->addr : 0;
	r->file = file ? strdup(file) : NULL;
	r->line = file ? lineno : 0;
}

static void results_grow(struct sym_object *o)
{
	size_t buckets = o->result_buckets ? o->result_buckets * 2 : MIN_RESULT_BUCKETS;
	struct sym_result **table = calloc(buckets, sizeof(*table));

	if (!table)
		return; /* keep the old table, just with longer chains */
	for (size_t b = 0; b < o->result_buckets; b++) {
		for (struct sym_result *r = o->results[b], *next; r; r = next) {
			next = r->next;
			r->next = table[hash_u64(r->vaddr) % buckets];
			table[hash_u64(r->vaddr) % buckets] = r;
		}
	}
	free(o->results);
	o->results = table;
	o->result_buckets = buckets;
}

/* The cached lookup of vaddr in o, done now if new. NULL on out of memory. */
static const struct sym_result *result_for(struct sym_object *o, uint64_t vaddr)
{
	struct sym_result *r;

	if (o->result_count >= o->result_buckets)
		results_grow(o);
	if (!o->results)
		return NULL;
	for (r = o->results[hash_u64(vaddr) % o->result_buckets]; r; r = r->next)
		if (r->vaddr == vaddr)
			return r;
	if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	r->vaddr = vaddr;
	lookup_in_object(o, r);
	r->next = o->results[hash_u64(vaddr) % o->result_buckets];
	o->results[hash_u64(vaddr) % o->result_buckets] = r;
	o->result_count++;
	return r;
}

int symbolize(struct symbolizer *s, const struct proc_maps *m, uint64_t addr, struct symbol_info *out)
{
	const struct proc_map *e = proc_maps_find(m, addr);
	const struct mapping_memo *memo;
	const struct sym_result *r;

	memset(out, 0, sizeof(*out));
	out->function = unknown_function;
	if (!e)
		return -1;
	out->object = e->path;
	out->object_offset = addr - e->start + e->offset;
	memo = mapping_info(s, m, e);
	if (!memo->obj)
		return 0;
	out->build_id = memo->obj->build_id;
	if (!memo->obj->mod || !memo->bias_known || !(r = result_for(memo->obj, addr - memo->bias)))
		return 0;
	if (r->function) {
		out->function = r->function;
		out->offset = r->offset;
	}
	out->file = r->file;
	out->line = r->line;
	return 0;
}

int symbol_info_format(const struct symbol_info *si, char *buf, size_t len)
{
	const char *object = si->object && si->object[0] ? si->object : "[anon]";

	if (!si->function || strcmp(si->function, unknown_function) == 0)
		return snprintf(buf, len, "[unknown] (%s+0x%" PRIx64 ")", object, si->object_offset);
	if (si->file)
		return snprintf(buf, len, "%s+0x%" PRIx64 " (%s:%d)", si->function, si->offset,
				si->file, si->line);
	return snprintf(buf, len, "%s+0x%" PRIx64 " (%s)", si->function, si->offset, object);
}

/* ---- lifetime ---- */

int symbolizer_set_debug_root(struct symbolizer *s, const char *dir)
{
	char *path;

	if (asprintf(&path, ":.debug:%s", dir) < 0)
		return -1;
	free(s->debuginfo_path);
	s->debuginfo_path = path;
	return 0;
}

struct symbolizer *symbolizer_new(void)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	elf_version(EV_CURRENT);
	if (symbolizer_set_debug_root(s, "/usr/lib/debug") != 0) {
		free(s);
		return NULL;
	}
	s->dwfl_callbacks.find_elf = dwfl_build_id_find_elf;
	s->dwfl_callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	s->dwfl_callbacks.debuginfo_path = &s->debuginfo_path;
	return s;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < FILE_BUCKETS; b++) {
		for (struct sym_file *f = s->files[b], *next; f; f = next) {
			next = f->next;
			free(f->path);
			free(f);
		}
	}
	for (struct sym_object *o = s->objects, *next; o; o = next) {
		next = o->next;
		object_free(o);
	}
	free(s->debuginfo_path);
	free(s);
}
