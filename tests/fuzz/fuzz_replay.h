/* fuzz_replay.h - the replay the trace-file harnesses share: what `report`
 * does with a file (reader, call-site table, correlator, the heap analyses,
 * every writer, the per-process rows, a diff of the file against itself), its
 * output thrown away. */
#ifndef FL_FUZZ_REPLAY_H
#define FL_FUZZ_REPLAY_H

#include <stdbool.h>
#include "analyze/callsites.h"
#include "analyze/correlator.h"
#include "faultline.h"
#include "output/output.h"
#include "store/meta.h"
#include "store/tracefile.h"
#include "fuzz_util.h"

static inline void fuzz_replay(const char *path, bool read_ahead)
{
	char err[512];
	uint32_t abi;
	struct tf_reader *r = tf_reader_open(path, &abi, err, sizeof(err));
	struct callsites *cs = callsites_new();
	struct correlator *c = corr_new(16);
	struct text_report *tr = text_report_new(50);
	struct corr_sink js = jsonl_sink(fuzz_sink());
	struct analyses *ha = analyses_new(0, 100);
	struct processes *ps = processes_new();
	struct diff_side *ds = diff_side_new();
	enum tf_status st = TF_END;
	const void *rec;
	uint32_t len;

	/* no separate debug files: reading libc's from /usr/lib/debug for every
	 * input would make each run take a third of a second */
	if (!cs || !c || !tr || !ha || !ps || !ds || callsites_set_debug_dir(cs, "/nonexistent-fuzz-debug-dir") ||
	    callsites_attach(cs, c) || text_report_attach(tr, c) || analyses_attach(ha, c) || diff_side_attach(ds, c))
		abort();
	processes_attach(ps, c);
	corr_add_sink(c, &js);
	if (r) {
		if (read_ahead)
			tf_reader_read_ahead(r);
		while ((st = tf_reader_next(r, &rec, &len)) == TF_RECORD) {
			if (len >= sizeof(struct fl_meta) && ((const uint8_t *)rec)[0] == FL_REC_META)
				callsites_meta(cs, rec, len);
			corr_feed(c, rec, len);
		}
		tf_reader_error(r);
		tf_reader_close(r);
	}
	corr_finish(c);
	analyses_finish(ha);
	summary_json_add_top("analyses", analyses_write_json, ha);
	summary_write_json(fuzz_sink(), corr_summary(c), corr_run_info(c), st == TF_TRUNCATED);
	summary_json_add_top(NULL, NULL, NULL);
	analyses_write_text(ha, fuzz_sink());
	text_report_write(tr, fuzz_sink(), corr_summary(c), corr_run_info(c), st == TF_TRUNCATED);
	sites_write_text(cs, fuzz_sink());
	sites_write_json(cs, fuzz_sink());
	folded_write(cs, CS_SYSCALLS, fuzz_sink());
	processes_write_text(ps, fuzz_sink());
	processes_write_json(ps, fuzz_sink());
	{ /* report --diff of the file against itself, by function and by site */
		struct diff_input in = { ds, ds, path, path, 50 };
		struct diff_row *rows;
		size_t n;

		diff_count_live_at_end(ds, c);
		for (int pass = 0; pass < 2; pass++) {
			if (pass && diff_side_use_sites(ds, cs))
				break;
			rows = diff_compare(ds, ds, &n);
			if (rows) {
				diff_write_text(fuzz_sink(), &in, rows, n);
				diff_write_json(fuzz_sink(), &in, rows, n);
			}
			free(rows);
		}
	}
	processes_free(ps);
	diff_side_free(ds);
	text_report_free(tr);
	callsites_free(cs);
	analyses_free(ha);
	corr_free(c);
}

#endif
