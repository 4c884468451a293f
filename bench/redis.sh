#!/usr/bin/env bash
# bench/redis.sh [REQUESTS] - what `faultline stat -p` costs a real server:
# redis-server (Debian's build links jemalloc, so every probe is one of
# jemalloc's entry points) under redis-benchmark's SET and GET, untraced and
# while `faultline stat -p` is attached, interleaved, 3 rounds. Prints the
# requests per second of each (median) and the ratio traced/untraced.
# FAULTLINE_BASE=PATH adds the same under another build, in the same rounds.
set -u
cd "$(dirname "$0")/.." || exit 2
FL=${FAULTLINE:-$PWD/build/faultline}
BASE=${FAULTLINE_BASE:-}
REQ=${1:-200000}
ROUNDS=${BENCH_ROUNDS:-3}
PORT=${REDIS_PORT:-16379}
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
	{ echo "bench/redis.sh: redis-server and redis-benchmark are needed (apt-get install redis-server redis-tools)" >&2; exit 2; }
T=$(mktemp -d)
redis-server --port "$PORT" --save '' --appendonly no --dir "$T" --daemonize no >"$T/redis.log" 2>&1 &
RPID=$!
trap 'kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ "$(timeout 2 redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done

med() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# rps TEST: requests per second redis-benchmark reports for one test (set, get)
rps() { redis-benchmark -p "$PORT" -n "$REQ" -c 20 -d 64 -r 100000 -t "$1" --csv 2>/dev/null |
	awk -F, 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'; }

# traced FAULTLINE OUT: one benchmark run while FAULTLINE stat -p is attached
traced() {
	local fpid
	"$1" stat -q -p "$RPID" --duration 600 -j "$T/s.json" 2>"$T/s.err" & fpid=$!
	sleep 1 # the probes are live well within a second
	rps "$t" >>"$2"
	kill -INT "$fpid"; wait "$fpid"
}

for r in $(seq 1 "$ROUNDS"); do
	for t in set get; do
		rps "$t" >>"$T/u.$t"
		traced "$FL" "$T/s.$t"
		[ -n "$BASE" ] && traced "$BASE" "$T/b.$t"
	done
done
printf '%-5s %14s %14s %7s%s\n' test untraced_rps stat_p_rps ratio "${BASE:+   base_rps base_ratio}"
for t in set get; do
	u=$(med <"$T/u.$t"); s=$(med <"$T/s.$t"); b=""
	[ -n "$BASE" ] && { b=$(med <"$T/b.$t"); b=$(printf ' %10.0f %10.2f' "$b" "$(echo "$b / $u" | bc -l)"); }
	printf '%-5s %14.0f %14.0f %7.2f%s\n' "$t" "$u" "$s" "$(echo "$s / $u" | bc -l)" "$b"
done
calls=$("${PYTHON:-python3}" -c 'import json, sys; print(sum(json.load(open(sys.argv[1]))["calls"].values()))' "$T/s.json" 2>/dev/null)
echo "($ROUNDS rounds of $REQ requests, 20 clients, 64-byte values; the last stat -p counted ${calls:-?} allocator calls)"
