#!/usr/bin/env bash
# bench/other_pid.sh - does tracing one process cost the others anything?
#
# Runs a malloc-heavy program (build/examples/churn) untraced, alternately
# alone and while `faultline trace -p` is attached to ANOTHER process (a
# python3 loop that allocates), interleaved A B A B, and prints the medians
# and their ratio. faultline places its uprobes for the traced pid only, so
# the ratio should be 1 within the noise; a system-wide uprobe (bpftrace's
# `uprobe:libc:malloc` with a pid filter) is run the same way for contrast.
#
# usage: bash bench/other_pid.sh [ROUNDS=7] [PAIRS=2000000]
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
PAIRS=${2:-2000000}
FL=build/faultline
CHURN=build/examples/churn
make --no-print-directory all >/dev/null || exit 1

T=$(mktemp -d)
cat > "$T/loop.py" <<'EOF'
import time
l = []
while True:
    l.append([0] * 5000)
    if len(l) > 50:
        l.pop(0)
    time.sleep(0.001)
EOF
python3 "$T/loop.py" &
TARGET=$!
trap 'kill $TARGET 2>/dev/null; rm -rf "$T"' EXIT
sleep 0.5

run_churn() { /usr/bin/time -f %e "$CHURN" "$PAIRS" 2>&1 >/dev/null | tail -1; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

alone=() traced=() sysw=()
for r in $(seq "$ROUNDS"); do
	alone+=("$(run_churn)")

	"$FL" trace -p "$TARGET" --duration 600 >/dev/null 2>&1 &
	FLPID=$!
	sleep 1.5
	traced+=("$(run_churn)")
	kill -INT "$FLPID"; wait "$FLPID" 2>/dev/null

	if command -v bpftrace >/dev/null; then
		bpftrace -e "uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc /pid == $TARGET/ { @n = count(); }" \
			>/dev/null 2>&1 &
		BTPID=$!
		sleep 3
		sysw+=("$(run_churn)")
		kill -INT "$BTPID"; wait "$BTPID" 2>/dev/null
	fi
	echo "round $r: alone ${alone[-1]} s, another pid traced by faultline ${traced[-1]} s${sysw:+, bpftrace system-wide uprobe ${sysw[-1]} s}" >&2
done

ma=$(printf '%s\n' "${alone[@]}" | median)
mt=$(printf '%s\n' "${traced[@]}" | median)
printf '\nchurn %s pairs, %s rounds, medians:\n' "$PAIRS" "$ROUNDS"
printf '  alone                                   %6.3f s\n' "$ma"
printf '  while faultline traces another pid      %6.3f s   ratio %.3f\n' "$mt" "$(echo "$mt / $ma" | bc -l)"
if [ ${#sysw[@]} -gt 0 ]; then
	ms=$(printf '%s\n' "${sysw[@]}" | median)
	printf '  while bpftrace probes malloc system-wide %5.3f s   ratio %.3f\n' "$ms" "$(echo "$ms / $ma" | bc -l)"
fi
