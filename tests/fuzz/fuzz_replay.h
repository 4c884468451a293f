/* fuzz_replay.h - the replay the trace-file harnesses share: what `report`
 * does with a file (reader, call-site table, correlator, the heap analyses,
 * every writer), its output thrown away. */
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
	enum tf_status st = TF_END;
	const void *rec;
	uint32_t len;

	/* no separate debug files: reading libc's from /usr/lib/debug for every
	 * input would make each run take a third of a second */
	if (!cs || !c || !tr || !ha || callsites_set_debug_dir(cs, "/nonexistent-fuzz-debug-dir") ||
	    callsites_attach(cs, c) || text_report_attach(tr, c) || analyses_attach(ha, c))
		abort();
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
	text_report_free(tr);
	callsites_free(cs);
	analyses_free(ha);
	corr_free(c);
}

#endif
