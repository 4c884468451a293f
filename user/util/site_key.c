/* site_key.c - call-site names made comparable across builds (site_key.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/site_key.h"

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

char *site_key(const char *name)
{
	char *k = malloc(strlen(name) + 1), *o = k;

	for (const char *p = name; k && *p;) {
		const char *e;

		if (p[0] == ' ' && p[1] == '(' && (e = strchr(p, ')'))) {
			p = e + 1;
			continue;
		}
		if (p[0] == '0' && p[1] == 'x') {
			memcpy(o, "0x?", 3);
			o += 3;
			for (p += 2; is_hex(*p); p++)
				;
			continue;
		}
		*o++ = *p++;
	}
	if (k)
		*o = 0;
	return k;
}
