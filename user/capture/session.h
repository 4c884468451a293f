/* session.h - one tracing session: a command started under the probes, or a
 * running process attached to; runs until the target exits, a duration
 * passes or a signal arrives, and hands every record (the kernel's events
 * and the meta records of meta.h) to one consumer. `record` stores them,
 * `trace` correlates them live. */
#ifndef FL_SESSION_H
#define FL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "faultline.h"

/* faultline's own exit codes (a traced command's own status is passed on) */
#define FL_EXIT_FAILED 125      /* faultline itself failed */
#define FL_EXIT_CANNOT_EXEC 126 /* CMD could not be executed */
#define FL_EXIT_NOT_FOUND 127   /* CMD was not found */

/* --on-error: when faultline must stop (a full disk, its own error), the
 * command it started is killed (the default), or detached from and left
 * running untraced. An attached process (-p) is never killed. */
enum { FL_ON_ERROR_KILL = 0, FL_ON_ERROR_DETACH = 1 };
/* What faultline's own failure did to the command (session_result.fate). */
enum { FL_FATE_NONE = 0, FL_FATE_KILLED, FL_FATE_DETACHED, FL_FATE_EXITED, FL_FATE_ATTACHED };

typedef int (*session_record_fn)(void *ctx, const void *rec, size_t len);

struct session_opts {
	char **argv;            /* the command to start, or NULL with attach_pid */
	pid_t attach_pid;       /* a running process to attach to */
	bool follow_forks;
	int verbose;
	size_t ringbuf_bytes;
	double duration_s;      /* stop after this long (0: when the target exits) */
	bool count_only;        /* no uprobes; syscalls and faults counted in the kernel */
	int stack_mode;         /* enum fl_stack_mode (--stacks) */
	unsigned stack_sample;  /* --sample N: with --stacks=all, one call in N */
	unsigned stack_bytes;   /* --stack-size (0: FL_STACK_DEFAULT) */
	const char *user;       /* --user NAME|UID for the command (NULL: the user behind sudo, else ours) */
	int on_error;           /* --on-error: what faultline's own failure does to the command */
	int probes;             /* --probes: enum fl_probes (capture/probe_path.h) */
	bool lossy;             /* --lossy: on the preload path, a full ring drops (counted) instead of waiting */
	session_record_fn consume;
	void (*tick)(void *ctx, bool final); /* about every second, and once at the end */
	void *ctx;
};

struct session_result {
	bool have_status;       /* the target's exit was seen */
	int wait_status;        /* as waitpid() reports it */
	unsigned long long lost;
	double attach_ms;       /* from start to probes live */
	unsigned long long counters[FL_NCOUNTERS]; /* the kernel's counters (count_only) */
	int fate;               /* FL_FATE_*: set when the consumer failed */
	pid_t pid;              /* the target */
	int probe_path;         /* FL_PROBES_PRELOAD or FL_PROBES_UPROBES: which path recorded the calls */
	unsigned long long preload_waits; /* the preload path: times a thread waited for room */
};

/* One clause for an error line: what became of the command when the
 * session ended on the consumer's failure ("the command (pid 12) was
 * killed (--on-error kill)"), into buf. */
const char *session_fate_text(const struct session_result *res, char *buf, size_t len);

/* Runs the session. Returns 0, or one of FL_EXIT_* after printing one line
 * on stderr. */
int session_run(const struct session_opts *o, struct session_result *res);

/* Stops a running session from a signal handler or a consumer. */
void session_request_stop(void);

#endif
