/* smaps.c - the kernel's resident bytes per mapping (smaps.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "symbols/smaps.h"
#include "symbols/maps.h"

char *smaps_compact(const char *raw, size_t rlen, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *out = malloc(cap), line[4352], name[256] = "";
	uint64_t start = 0, end = 0;
	int have = 0;

	if (!out)
		return NULL;
	for (size_t off = 0; off < rlen;) {
		const char *nl = memchr(raw + off, '\n', rlen - off);
		size_t ll = nl ? (size_t)(nl - (raw + off)) : rlen - off;
		unsigned long long kb, s, e;
		int pos = 0;

		snprintf(line, sizeof(line), "%.*s", (int)(ll < sizeof(line) - 1 ? ll : sizeof(line) - 1), raw + off);
		off += ll + 1;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &s, &e, &pos) == 2 && pos > 0) {
			start = s;
			end = e;
			snprintf(name, sizeof(name), "%s", line + pos);
			for (char *c = name; *c; c++)
				if (*c == ' ' || *c == '\n' || *c == '\t')
					*c = '_'; /* one field in the compact line */
			have = 1;
		} else if (have && sscanf(line, "Rss: %llu kB", &kb) == 1) {
			char one[384];
			int w = snprintf(one, sizeof(one), "%" PRIx64 " %" PRIx64 " %llu %s\n", start, end, kb * 1024,
					 name[0] ? name : "-");

			while (n + (size_t)w + 1 > cap) {
				char *p = realloc(out, cap *= 2);

				if (!p)
					return free(out), NULL;
				out = p;
			}
			memcpy(out + n, one, (size_t)w);
			n += (size_t)w;
			have = 0;
		}
	}
	out[n] = 0;
	*len = n;
	return out;
}

char *smaps_read_compact(pid_t pid, size_t *len)
{
	char path[64], *raw, *out;
	size_t rlen;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	raw = proc_text_read(path, &rlen);
	if (!raw)
		return NULL;
	out = smaps_compact(raw, rlen, len);
	free(raw);
	return out;
}

struct smaps_entry *smaps_parse(const char *text, size_t len, size_t *n)
{
	size_t cap = 0;
	struct smaps_entry *v = NULL;

	*n = 0;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (text + off)) : len - off;
		char line[512];
		struct smaps_entry e;

		snprintf(line, sizeof(line), "%.*s", (int)(ll < sizeof(line) - 1 ? ll : sizeof(line) - 1), text + off);
		off += ll + 1;
		if (!line[0])
			continue;
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNu64 " %255s", &e.start, &e.end, &e.rss, e.name) != 4 ||
		    e.end < e.start)
			return free(v), *n = 0, NULL;
		if (*n == cap) {
			struct smaps_entry *p = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!p)
				return free(v), *n = 0, NULL;
			v = p;
		}
		v[(*n)++] = e;
	}
	return v;
}
