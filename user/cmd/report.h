/* report.h - what `report` shares with `report --diff` (report_diff.c):
 * replaying a recording, reading its stored maps for the call-site table. */
#ifndef FL_CMD_REPORT_H
#define FL_CMD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include "analyze/callsites.h"
#include "analyze/correlator.h"
#include "store/tracefile.h"

/* Feeds every record of r to c, then ends the trace; the reader's final status. */
enum tf_status report_replay(struct tf_reader *r, struct correlator *c);
/* A recording made with --stacks: its memory maps go to the table before the
 * replay. 1 with stacks, 0 without, -1 on a file that cannot be read. */
int report_read_stack_maps(const char *path, struct callsites *cs);

/* report --diff OLD NEW. */
struct diff_opts {
	const char *old_path, *new_path, *out, *debug_dir;
	bool json;
	size_t max_rows; /* text: changed rows listed (0: all) */
};
/* The exit status, after any message. */
int report_diff(const struct diff_opts *o);

#endif
