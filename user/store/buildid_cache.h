/* buildid_cache.h - the objects a recording's stacks need, kept by build-id
 * (as perf's ~/.debug): while recording with --stacks, every executable
 * object the target maps is copied (once per build-id) from the target's
 * own view of it (/proc/PID/map_files/), so a report still unwinds and names
 * its frames after the process exited, the file was replaced or deleted, or
 * the process lived in another mount namespace (a container).
 *
 * The cache lives in $FAULTLINE_BUILDID_DIR, else $HOME/.cache/faultline/build-id,
 * as <dir>/<first 2 hex digits>/<the other digits>.
 */
#ifndef FL_BUILDID_CACHE_H
#define FL_BUILDID_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cache directory (static storage). */
const char *buildid_cache_dir(void);

/* The cached copy's path for build-id hex id into buf. 0, or -1 if buf is too small. */
int buildid_cache_path(const char *id, char *buf, size_t len);

/* Copies src (readable now) into the cache as id, unless it is there: 0
 * (done or present), -1 on an error (the cache is then left without it). */
int buildid_cache_add(const char *id, const char *src);

#endif
