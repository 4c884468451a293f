#!/usr/bin/env bash
# The dependency rule of user/ (docs/DESIGN.md): which layer's headers each
# layer may include. A layer may always include its own headers and include/.
#
#   util     -
#   symbols  util
#   store    symbols util
#   analyze  store symbols util
#   capture  store symbols util          (capture/alloc is part of capture)
#   output   analyze store symbols util
#   check    util
#   cmd      every layer
#
# tests/layers.sh [DIR]   checks DIR (default user/): prints each include that
#                         breaks the rule and exits 1, or exits 0.
# tests/layers.sh --self-test   shows that a breaking include is caught.
set -u
cd "$(dirname "$0")/.." || exit 2

allowed() {
	case $1 in
	util) echo "" ;;
	symbols) echo "util" ;;
	store) echo "symbols util" ;;
	analyze) echo "store symbols util" ;;
	capture) echo "store symbols util" ;;
	output) echo "analyze store symbols util" ;;
	check) echo "util" ;;
	cmd) echo "util symbols store analyze capture output check" ;;
	*) echo "?" ;;
	esac
}

check_tree() {
	local root=$1 bad=0 f layer inc target ok a
	while IFS= read -r f; do
		layer=${f#"$root"/}
		layer=${layer%%/*}
		if [ "$(allowed "$layer")" = "?" ]; then
			echo "layers: $f is in no layer (user/ has cmd capture store symbols analyze output check util)"
			bad=1
			continue
		fi
		while IFS= read -r inc; do
			target=${inc%%/*}
			[ "$inc" = "$target" ] && continue # include/ or the build's own (no folder)
			[ "$target" = "$layer" ] && continue
			ok=0
			for a in $(allowed "$layer"); do [ "$a" = "$target" ] && ok=1; done
			if [ $ok = 0 ]; then
				echo "layers: $f includes \"$inc\": $layer/ may include only: $(allowed "$layer")${layer:+ (and its own)}"
				bad=1
			fi
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	done < <(find "$root" -name '*.[ch]' | sort)
	return $bad
}

if [ "${1:-}" = --self-test ]; then
	t=$(mktemp -d) && trap 'rm -rf "$t"' EXIT
	cp -r user "$t/user"
	check_tree "$t/user" >/dev/null || { echo "layers: self-test: the tree fails before the change"; exit 1; }
	echo '#include "output/output.h"' >>"$t/user/analyze/correlator.h"
	out=$(check_tree "$t/user")
	if [ $? = 1 ] && grep -q 'analyze/correlator.h includes "output/output.h"' <<<"$out"; then
		echo "layers: self-test: an analyze/ header including output/ is caught"
		exit 0
	fi
	echo "layers: self-test: analyze/ including output/ was NOT caught"
	exit 1
fi
check_tree "${1:-user}"
