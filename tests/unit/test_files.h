/* test_files.h - small helpers the unit tests share: run a shell command
 * built with printf arguments, read a whole file (procfs files too). */
#ifndef FL_TEST_FILES_H
#define FL_TEST_FILES_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static inline int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The whole file (procfs files too: they have no size), NUL-terminated. */
static inline char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, used = 0, got;
	char *buf = malloc(cap + 1);

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	while ((got = fread(buf + used, 1, cap - used, f)) > 0) {
		used += got;
		if (used == cap) {
			char *nb = realloc(buf, (cap *= 2) + 1);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	buf[used] = '\0';
	*len = used;
	return buf;
}

/* Writes text to DIR/NAME. 0 or -1. */
static inline int write_text_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")))
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	return fclose(f) ? -1 : rc;
}

#endif
