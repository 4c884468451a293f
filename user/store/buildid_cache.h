/* buildid_cache.h - the objects a recording's stacks need, kept by build-id
 * (as perf's ~/.debug): while recording with --stacks, every executable
 * object the target maps is copied (once per build-id) from the target's
 * own view of it (/proc/PID/map_files/), so a report still unwinds and names
 * its frames after the process exited, the file was replaced or deleted, or
 * the process lived in another mount namespace (a container).
 *
 * The cache lives in $FAULTLINE_BUILDID_DIR, else (root) /var/cache/faultline/
 * build-id, else $HOME/.cache/faultline/build-id, as <dir>/<first 2 hex
 * digits>/<the other digits>. The directory, reached without following a
 * link that root does not own, is used only if the effective user owns it
 * and neither its group nor others may write in it (its xx subdirectories
 * likewise). An object is copied under a random O_EXCL temporary name (mode
 * 0600) and renamed into place once whole. An object over
 * BUILDID_CACHE_MAX_OBJECT bytes is not copied; past BUILDID_CACHE_MAX_TOTAL
 * bytes in all, the objects least recently added or used go first.
 */
#ifndef FL_BUILDID_CACHE_H
#define FL_BUILDID_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUILDID_CACHE_ROOT_DIR "/var/cache/faultline/build-id"
#define BUILDID_CACHE_MAX_OBJECT (512ull << 20)
#define BUILDID_CACHE_MAX_TOTAL (4ull << 30)
#define BUILDID_CACHE_TOO_LARGE 1 /* buildid_cache_add: over the per-object bound */

/* The cache directory (static storage). */
const char *buildid_cache_dir(void);
/* Opens (makes, mode 0700) and checks the cache directory, once: 0, or -1
 * with a one-line reason in buildid_cache_error() (refused or failed). */
int buildid_cache_open(void);
const char *buildid_cache_error(void);
/* Bounds in bytes (tests; the defaults above otherwise). */
void buildid_cache_set_limits(uint64_t per_object, uint64_t total);
uint64_t buildid_cache_max_object(void);
/* Forgets the directory and limits (tests): read again from the environment. */
void buildid_cache_reset(void);

/* The cached copy's path for build-id hex id into buf. 0, or -1 if buf is
 * too small or id is no lowercase hex of 3 digits or more. */
int buildid_cache_path(const char *id, char *buf, size_t len);

/* Copies src (a regular file, readable now) into the cache as id, unless
 * it is there: 0 (done or present), BUILDID_CACHE_TOO_LARGE (not copied),
 * -1 on an error with errno (EPERM: the cache was refused, see
 * buildid_cache_error; the cache is then left without it). */
int buildid_cache_add(const char *id, const char *src);

#endif
