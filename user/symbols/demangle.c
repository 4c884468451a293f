/* demangle.c - owns the call into the C++ runtime's demangler (see demangle.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "symbols/demangle.h"

/* libstdc++'s, part of the Itanium C++ ABI every C++ runtime here follows. */
char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

const char *demangle(const char *name, char *buf, size_t len)
{
	int status = -1;
	char *d = NULL;

	if (name && name[0] == '_' && name[1] == 'Z')
		d = __cxa_demangle(name, NULL, NULL, &status);
	snprintf(buf, len, "%s", status == 0 && d ? d : name ? name : "");
	free(d);
	return buf;
}
