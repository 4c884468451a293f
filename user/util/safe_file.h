/* safe_file.h - opening files safely as root: the one place where faultline
 * opens a file that a recording, a target or a user names.
 *
 * Reading (sf_open_read): regular files only. The open never blocks (a FIFO
 * or a device is refused after fstat, before any read), never makes a
 * controlling terminal, and files of /proc, /sys and the like (kcore) are
 * refused too; a file larger than the caller's bound is refused.
 *
 * Writing (sf_out_*): the directory part of the path is walked one
 * component at a time from / (or the working directory) with O_NOFOLLOW; a
 * symbolic link, at any component including the last, is followed only when
 * root or the effective user owns it, so a link that the user behind sudo
 * (or anyone else) planted is refused. The new file is made beside the
 * target under an unpredictable name with O_EXCL and mode 0600, and renamed
 * over the target only by sf_out_commit, once whole; sf_out_abort leaves the
 * old file as it was. An existing device or FIFO owned by root or the
 * effective user (/dev/null, a pipe of the shell) is written directly.
 */
#ifndef FL_SAFE_FILE_H
#define FL_SAFE_FILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* errno of a refused file that is no regular file (a FIFO, device, socket,
 * directory or a file of /proc or /sys): sf_strerror says so. */
#define SF_ENOTREG EINVAL

/* strerror(e), but "not a regular file" for SF_ENOTREG and "a symbolic
 * link not owned by root" for ELOOP (what the sf_ functions mean by them). */
const char *sf_strerror(int e);

/* Opens path (dirfd-relative with sf_open_read_at; symlinks followed) for
 * reading: a regular file of at most max_size bytes (0: no bound). Returns a
 * blocking O_RDONLY|O_CLOEXEC fd, with its stat in *st if st is not NULL,
 * or -1 with errno (SF_ENOTREG, EFBIG for a larger file, or open's). */
int sf_open_read(const char *path, off_t max_size, struct stat *st);
int sf_open_read_at(int dirfd, const char *name, int extra_flags, off_t max_size, struct stat *st);

/* The bound on an object file (ELF, debug file) faultline reads. */
#define SF_MAX_OBJECT_BYTES (4ll << 30)

/* True if a symbolic link (or a directory) with this owner may be trusted:
 * root or the effective user own it. */
bool sf_trusted_owner(uid_t uid);

/* Opens the directory at path (relative to the working directory unless
 * absolute) as an O_DIRECTORY fd, following only trusted symbolic links
 * (ELOOP otherwise); with mode != 0 missing components are made with that
 * mode (mkdirat). -1 with errno on failure. */
int sf_open_dir(const char *path, mode_t mode);

/* A file being written under a temporary name. */
struct sf_out {
	int fd;          /* write here */
	int dirfd;       /* the target's directory (-1 when written directly) */
	char name[256];  /* the target's name in dirfd */
	char tmp[300];   /* the temporary file's name in dirfd */
	bool direct;     /* an existing device or FIFO: written directly */
	bool published;  /* renamed into place already (sf_out_publish) */
};

/* Starts writing path (see above). 0, or -1 with errno (ELOOP: an untrusted
 * symbolic link on the way; SF_ENOTREG: an existing target that is neither a
 * regular file nor a trusted device or FIFO). */
int sf_out_open(struct sf_out *o, const char *path);
/* fsyncs, closes and renames the new file over the target. 0 or -1 (errno;
 * the temporary file is then removed and the target left as it was). */
int sf_out_commit(struct sf_out *o);
/* Closes and removes the new file; the target stays as it was (once
 * published, the file stays where it is). */
void sf_out_abort(struct sf_out *o);
/* Renames the new file over the target now, while it is still written
 * (a recording under way, readable as cut short if faultline is killed);
 * commit then only syncs and closes. 0 or -1 (errno; nothing changed). */
int sf_out_publish(struct sf_out *o);

/* The same for stdio: a FILE for path ("-" or NULL: stdout, committed as a
 * no-op). sf_fclose commits when ok and nothing failed, else aborts;
 * returns 0 or -1 (errno). */
FILE *sf_fopen_out(const char *path, struct sf_out *o);
int sf_fclose(FILE *f, struct sf_out *o, bool ok);

/* Fills buf with n random lowercase hex digits and a NUL (getrandom). */
void sf_random_hex(char *buf, size_t n);

#endif
