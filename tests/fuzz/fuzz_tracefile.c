/* fuzz_tracefile.c - libFuzzer harness: the input is a whole trace file, as
 * `report` would be handed one. It is opened with the trace reader and every
 * record it returns goes through the correlator and the text, JSON and JSONL
 * writers. Most inputs die at a checksum: fuzz_trace_records.c gets past them. */
#include <stdint.h>
#include "fuzz_util.h"
#include "fuzz_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_replay(fuzz_file(data, size), size && (data[0] & 1));
	return 0;
}
