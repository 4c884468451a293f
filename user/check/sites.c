/* sites.c - call sites as counts for check --sites (see sites.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check/sites.h"
#include "util/site_key.h"

static struct metric *find(struct summary_doc *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->m[i].name, name))
			return &d->m[i];
	return NULL;
}

static int append(struct summary_doc *d, char *name, uint64_t count)
{
	struct metric *m = realloc(d->m, (d->n + 1) * sizeof(*m));

	if (!m)
		return free(name), -1;
	d->m = m;
	d->m[d->n].name = name;
	d->m[d->n].v = (struct fl_count){ .is_int = true, .u = count, .d = (double)count };
	d->n++;
	return 0;
}

/* Adds count to the metric of site (made when new). */
static int add_site(struct summary_doc *d, const char *site, uint64_t count)
{
	char *key = site_key(site), *name = NULL;
	struct metric *m;

	if (!key || asprintf(&name, FL_SITES_PREFIX "%s", key) < 0) {
		free(key);
		return -1;
	}
	free(key);
	if ((m = find(d, name)) != NULL) {
		m->v.u += count;
		m->v.d = (double)m->v.u;
		free(name);
		return 0;
	}
	return append(d, name, count);
}

long sites_load(const struct json_value *root, struct summary_doc *d, char *err, size_t errlen)
{
	const struct json_value *list = json_get(json_get(json_get(root, "extra"), "call_sites"), "syscalls");

	if (!list)
		return 0;
	if (list->type != JSON_ARRAY) {
		snprintf(err, errlen, "extra.call_sites.syscalls is not an array");
		return -1;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct json_value *site = json_get(&list->items[i], "site");
		const struct json_value *count = json_get(&list->items[i], "count");

		if (!site || site->type != JSON_STRING || !count || count->type != JSON_NUMBER || !count->is_uint) {
			snprintf(err, errlen, "extra.call_sites.syscalls[%zu]: needs a \"site\" string and a whole \"count\"", i);
			return -1;
		}
		if (add_site(d, site->str, count->u64)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return (long)list->n;
}

int sites_fill_unlisted(struct summary_doc *base, long base_listed, const struct summary_doc *cur,
			long cur_listed)
{
	uint64_t floor = UINT64_MAX;
	size_t nbase = base->n;
	size_t plen = strlen(FL_SITES_PREFIX);

	if (base_listed <= 0 || base_listed < cur_listed)
		return 0; /* the baseline's list was not cut: a site it lacks had none */
	for (size_t i = 0; i < nbase; i++)
		if (!strncmp(base->m[i].name, FL_SITES_PREFIX, plen) && base->m[i].v.u < floor)
			floor = base->m[i].v.u;
	for (size_t i = 0; i < cur->n; i++) {
		char *name;

		if (strncmp(cur->m[i].name, FL_SITES_PREFIX, plen) || find(base, cur->m[i].name))
			continue;
		if (!(name = strdup(cur->m[i].name)) || append(base, name, floor))
			return -1;
	}
	return 0;
}
