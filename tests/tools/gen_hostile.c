/* gen_hostile.c - writes the hostile recordings tests/e2e/91-hostile-input.t
 * replays, with the real trace-file writer (user/store/tracefile.c):
 *   gen_hostile command-bomb MIB OUT one command record of MIB MiB of NULs
 *   gen_hostile maps-bomb MIB OUT    a --stacks recording whose maps record is MIB MiB of newlines
 *   gen_hostile threads N OUT        N distinct threads, each a malloc and a free
 *   gen_hostile maps-many N OUT      a --stacks recording of N maps records of 1000 lines for one
 *                                    process, no line twice (each merge keeps every older one)
 *   gen_hostile escapes OUT          argv and allocator path holding ESC[35m, a newline, ';'
 * Build: cc -Iinclude -Iuser -D_GNU_SOURCE gen_hostile.c user/store/tracefile.c
 *        user/store/event_codec.c user/util/io.c -lz -lzstd -pthread */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "faultline.h"
#include "store/meta.h"
#include "store/tracefile.h"

static struct tf_writer *w;

static void add(const void *rec, size_t len)
{
	if (tf_writer_add(w, rec, (uint32_t)len)) {
		fprintf(stderr, "gen_hostile: %s\n", tf_writer_error(w));
		exit(1);
	}
}

static void meta(uint8_t kind, uint32_t tgid, uint64_t value, const void *data, size_t len)
{
	char *buf = calloc(1, sizeof(struct fl_meta) + len);
	struct fl_meta *m = (struct fl_meta *)buf;

	if (!buf)
		exit(1);
	m->type = FL_REC_META;
	m->kind = kind;
	m->tgid = tgid;
	m->value = value;
	if (len)
		memcpy(buf + sizeof(*m), data, len);
	add(buf, sizeof(*m) + len);
	free(buf);
}

static void call(uint32_t tgid, uint32_t tid, uint64_t ts, uint8_t func, uint64_t a0, uint64_t a2, uint64_t ret)
{
	struct fl_ev_call e = { .h = { .type = FL_EV_CALL, .func = func, .tid = tid, .tgid = tgid, .ts = ts },
				.a0 = a0, .a2 = a2, .ret = ret, .ts_ret = ts + 1 };

	add(&e, sizeof(e));
}

static void *filled(size_t len, int byte)
{
	char *p = malloc(len);

	if (!p)
		exit(1);
	memset(p, byte, len);
	return p;
}

int main(int argc, char **argv)
{
	char err[256];
	const char *mode = argc > 2 ? argv[1] : "", *out = argv[argc - 1];
	uint32_t pid = 4242;

	if (argc < 3 || (strcmp(mode, "escapes") && argc < 4)) {
		fprintf(stderr, "usage: gen_hostile escapes OUT | command-bomb|maps-bomb MIB OUT | threads|maps-many N OUT\n");
		return 2;
	}
	w = tf_writer_open(out, FL_EVENT_ABI, err, sizeof(err));
	if (!w)
		return fprintf(stderr, "gen_hostile: %s\n", err), 1;
	if (!strcmp(mode, "command-bomb")) {
		size_t len = strtoul(argv[2], NULL, 10) << 20;
		void *nuls = filled(len, 0);

		meta(FL_META_COMMAND, 0, 0, nuls, len);
		meta(FL_META_TARGET, pid, 0, NULL, 0);
		free(nuls);
		call(pid, pid, 1000, FL_MALLOC, 16, 0, 0x10000);
	} else if (!strcmp(mode, "maps-bomb")) {
		size_t len = strtoul(argv[2], NULL, 10) << 20;
		void *nls = filled(len, '\n');

		meta(FL_META_COMMAND, 0, 0, "maps-bomb", 10);
		meta(FL_META_TARGET, pid, 0, NULL, 0);
		meta(FL_META_STACKS, 0, FL_STACKS_EVENTS | 1u << 8 | (uint64_t)FL_STACK_DEFAULT << 32, NULL, 0);
		meta(FL_META_MAPS, pid, 0, nls, len);
		free(nls);
		call(pid, pid, 1000, FL_MALLOC, 16, 0, 0x10000);
	} else if (!strcmp(mode, "maps-many")) {
		unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
		char *text = malloc(1000 * 64);
		uint64_t at = 0x10000000;

		if (!text)
			exit(1);
		meta(FL_META_COMMAND, 0, 0, "maps-many", 10);
		meta(FL_META_TARGET, pid, 0, NULL, 0);
		meta(FL_META_STACKS, 0, FL_STACKS_EVENTS | 1u << 8 | (uint64_t)FL_STACK_DEFAULT << 32, NULL, 0);
		for (unsigned r = 0; r < n; r++) {
			size_t len = 0;

			for (int i = 0; i < 1000; i++, at += 0x2000)
				len += (size_t)sprintf(text + len, "%llx-%llx rw-p 00000000 00:00 0 \n",
						       (unsigned long long)at, (unsigned long long)at + 0x1000);
			meta(FL_META_MAPS, pid, 0, text, len);
		}
		free(text);
		call(pid, pid, 1000, FL_MALLOC, 16, 0, 0x10000);
	} else if (!strcmp(mode, "threads")) {
		unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
		uint64_t ts = 1000;

		meta(FL_META_COMMAND, 0, 0, "threads", 8);
		meta(FL_META_TARGET, pid, 0, NULL, 0);
		for (unsigned i = 0; i < n; i++) {
			uint64_t ptr = 0x100000 + (uint64_t)i * 64;

			call(pid, 100000 + i, ts += 10, FL_MALLOC, 32, 0, ptr);
			call(pid, 100000 + i, ts += 10, FL_FREE, 0, ptr, 0);
		}
	} else if (!strcmp(mode, "escapes")) {
		static const char cmd[] = "./evil\033[35mPURPLE\nforged line\0arg;two\twith\rcontrols\0\xff\xfe bad utf-8";
		static const char alloc[] = "/lib/evil\033[2J\nlibc.so.6";

		meta(FL_META_COMMAND, 0, 0, cmd, sizeof(cmd));
		meta(FL_META_TARGET, pid, 0, NULL, 0);
		meta(FL_META_ALLOCATOR, pid, 0, alloc, sizeof(alloc) - 1);
		call(pid, pid, 1000, FL_MALLOC, 200000, 0, 0x7f0000000010ull);
	} else {
		fprintf(stderr, "gen_hostile: unknown mode %s\n", mode);
		return 2;
	}
	if (tf_writer_close(w, err, sizeof(err)))
		return fprintf(stderr, "gen_hostile: %s\n", err), 1;
	return 0;
}
