/* folded.c - the recorded stacks as folded lines ("root;...;leaf COUNT",
 * one per distinct stack, sorted), the input of flamegraph.pl and
 * speedscope. */
#include <inttypes.h>
#include <stdlib.h>
#include "output/output.h"

int folded_write(struct callsites *cs, enum cs_metric m, FILE *out)
{
	size_t n;
	struct cs_folded *l = callsites_folded(cs, m, &n);

	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s %" PRIu64 "\n", l[i].stack, l[i].count);
	free(l);
	return ferror(out) ? -1 : 0;
}
