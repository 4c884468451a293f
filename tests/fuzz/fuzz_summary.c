/* fuzz_summary.c - libFuzzer harness: the input is a summary file as `check`
 * reads one (json_read.c, then summary_load of check/metrics.c, then a
 * comparison of the summary with itself, as --baseline X X would). */
#include <stdint.h>
#include "check/metrics.h"
#include "util/json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct json_value *v = json_parse((const char *)data, size, NULL, err, sizeof(err));
	struct summary_doc d = { 0 };
	struct check_result res = { 0 };

	if (!v)
		return 0;
	if (summary_load(v, &d, err, sizeof(err)) == 0 && check_compare(&d, &d, NULL, &res, err, sizeof(err)) == 0)
		check_result_free(&res);
	summary_doc_free(&d);
	json_free(v);
	return 0;
}
