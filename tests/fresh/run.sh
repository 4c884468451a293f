#!/usr/bin/env bash
# tests/fresh/run.sh - the fresh-machine test (`make fresh-check`, run by
# .ci/run): a new user's Debian 12, made by debootstrap (minbase plus make,
# git and ca-certificates, nothing else), gets a `git clone` of the commit
# under test, and there, as root:
#   1. the GitHub Actions example's steps (examples/ci/github-actions.yml, its
#      `run:` blocks in order, sudo a no-op) after a first --update of the
#      baseline, as a user following its comments would;
#   2. the README's two commands, `make demo` and `make test`, in a clean clone;
# and fails when one of them fails or when prove reports a skipped test (a
# test that skips on a fresh machine is a missing install step).
#
# usage: tests/fresh/run.sh [COMMIT]      (default: HEAD of this repository)
#
# The mirror is the one the host's own apt sources name for bookworm. The
# base chroot is cached as a tarball under $FAULTLINE_CACHE (default
# /var/cache/faultline/fresh), and so are the downloaded .debs (apt's archive
# directory is bind-mounted there: packages are still installed by make deps,
# only not downloaded again). Everything mounted is unmounted on every exit.
# Output: TAP on stdout (one line per step), the steps' logs on stderr;
# FRESH_KEEP=1 keeps the chroot for a look afterwards.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${FAULTLINE_CACHE:-/var/cache/faultline}/fresh
SUITE=bookworm
INCLUDE=make,git,ca-certificates
BASE=$CACHE/$SUITE-minbase-${INCLUDE//,/-}.tar

die() { echo "fresh: $*" >&2; echo "Bail out! $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, BPF)"
command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
COMMIT=$(git -C "$REPO" rev-parse --verify "${1:-HEAD}^{commit}") || die "no commit ${1:-HEAD} in $REPO"

. "$REPO/tests/fresh/mirror.sh"
MIRROR=$(host_mirror "$SUITE") || die "no deb source for $SUITE in the host's /etc/apt/sources.list{,.d}"

mkdir -p "$CACHE/archives/partial" || die "cannot create $CACHE"
if [ ! -s "$BASE" ]; then
	echo "fresh: building the base chroot ($SUITE minbase + $INCLUDE, from $MIRROR; cached as $BASE)" >&2
	tmp=$(mktemp -d "$CACHE/debootstrap.XXXXXX") || die "mktemp failed"
	if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp/root" "$MIRROR" >"$tmp/log" 2>&1; then
		tail -20 "$tmp/log" >&2; rm -rf "$tmp"; die "debootstrap failed"
	fi
	rm -f "$tmp"/root/var/cache/apt/archives/*.deb
	tar -C "$tmp/root" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE" || { rm -rf "$tmp"; die "cannot write $BASE"; }
	rm -rf "$tmp"
fi

ROOT=$(mktemp -d /var/tmp/faultline-fresh.XXXXXX) || die "mktemp failed"
MOUNTS=()
cleanup() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount -R "${MOUNTS[i]}" 2>/dev/null || umount -lR "${MOUNTS[i]}" 2>/dev/null
	done
	if [ -n "${FRESH_KEEP:-}" ]; then echo "fresh: chroot kept in $ROOT" >&2
	elif ! grep -q " $ROOT/" /proc/self/mounts; then rm -rf "$ROOT"
	else echo "fresh: $ROOT still has mounts; not removed" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

t0=$(date +%s)
tar -C "$ROOT" -xf "$BASE" || die "cannot unpack $BASE"
bind() { # bind SRC DIR [rbind]: mounted now, unmounted by cleanup
	mkdir -p "$ROOT$2"
	mount "--${3:-bind}" "$1" "$ROOT$2" || die "cannot mount $1 on $ROOT$2"
	MOUNTS+=("$ROOT$2")
	[ "${3:-}" = rbind ] && mount --make-rslave "$ROOT$2"
	return 0
}
mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc") || die "cannot mount /proc"
# /sys with what is mounted below it: BTF is in /sys/kernel/btf; bpffs,
# debugfs and tracefs come along where the host has them
bind /sys /sys rbind
bind /dev /dev rbind
mount -t tmpfs tmpfs "$ROOT/run" && MOUNTS+=("$ROOT/run") || die "cannot mount /run"
bind "$CACHE/archives" /var/cache/apt/archives
bind "$(git -C "$REPO" rev-parse --absolute-git-dir)" /src.git
mount -o remount,bind,ro "$ROOT/src.git" || die "cannot make /src.git read-only"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
# The host's own network trust, as its resolv.conf: CA certificates its admin
# added (a TLS-inspecting proxy's, say) are trusted in the chroot too, and
# Node (npm) is told to take the system's store, as the host's is. A fresh
# machine that reaches the registry directly needs neither.
CHROOT_ENV=()
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/" &&
		chroot "$ROOT" update-ca-certificates >/dev/null 2>&1 || die "cannot add the host's local CA certificates"
	CHROOT_ENV=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm_config_cafile=/etc/ssl/certs/ca-certificates.crt)
fi
# sudo is a no-op as root (the workflow's steps say sudo; minbase has none)
cat >"$ROOT/usr/local/bin/sudo" <<'EOF'
#!/bin/sh
# tests/fresh/run.sh's stand-in: root already; sudo's options are dropped
while [ $# -gt 0 ]; do case $1 in -*) shift ;; *) break ;; esac; done
exec "$@"
EOF
chmod 755 "$ROOT/usr/local/bin/sudo"
echo "fresh: chroot ready in $(($(date +%s) - t0)) s ($ROOT, kernel $(uname -r), commit $COMMIT)" >&2

# in_root SCRIPT: runs a bash script as root in the chroot, output to stderr
in_root() {
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		"${CHROOT_ENV[@]}" /bin/bash -c "$1"
}
clone() { # clone DIR
	in_root "set -e; git -c safe.directory='*' clone -q /src.git $1; cd $1; git -c advice.detachedHead=false checkout -q $COMMIT"
}

N=0 FAILED=0
step() { # step DESC RC
	N=$((N + 1))
	if [ "$2" = 0 ]; then echo "ok $N - $1"; else echo "not ok $N - $1 (exit $2)"; FAILED=$((FAILED + 1)); fi
}
echo "1..5"

# 1. The CI example, as a workflow run would do it: its run: blocks in order,
#    with its env: (uses: steps are GitHub's own: the clone stands in for
#    checkout); the baseline is made first, as its comments say.
clone /root/gate
python3 - "$REPO/examples/ci/github-actions.yml" >"$ROOT/root/workflow.sh" <<'EOF' || die "cannot read the workflow"
import sys, re, shlex
lines = open(sys.argv[1]).read().splitlines()
env, steps, i = {}, [], 0
def block(i, indent):
    out = []
    while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
        out.append(lines[i]); i += 1
    return out, i
while i < len(lines):
    l = lines[i]; s = l.strip(); ind = len(l) - len(l.lstrip())
    if s == 'env:' and ind == 4:
        body, i = block(i + 1, ind)
        for b in body:
            m = re.match(r'\s*([A-Z_]+):\s*(.*)$', b)
            if m:
                v = m.group(2).strip()
                env[m.group(1)] = v[1:-1] if v[:1] == '"' else v
        continue
    m = re.match(r'(\s*)(- )?run:\s*(\|)?\s*(.*)$', l)
    if m:
        if m.group(3):
            body, i = block(i + 1, ind)
            steps.append('\n'.join(b.strip() for b in body))
        else:
            steps.append(m.group(4)); i += 1
        continue
    i += 1
print('set -e; cd /root/gate')
for k, v in env.items():
    print('export %s=%s' % (k, shlex.quote(v)))
for s in steps:
    if 'faultline-gate.sh' in s:  # the first time: the baseline, as the comments say
        print('mkdir -p "$(dirname "$BASELINE")"')
        print('examples/ci/faultline-gate.sh --update "$BASELINE" -- $TEST_CMD')
    print('( set -e\n%s\n)' % s)
EOF
echo "fresh: the workflow's steps:" >&2; sed 's/^/    /' "$ROOT/root/workflow.sh" >&2
in_root 'bash /root/workflow.sh' >&2
step "examples/ci/github-actions.yml's steps (faultline-gate.sh, baseline then check) in a fresh chroot" $?

# 2-3. The README's commands, in a clean clone.
clone /root/faultline
in_root 'cd /root/faultline && make demo' >&2
step "make demo in a fresh chroot" $?
in_root 'cd /root/faultline && make test' >"$ROOT/root/test.log" 2>&1
rc=$?
cat "$ROOT/root/test.log" >&2
step "make test in a fresh chroot" $rc
grep -q '^Result: PASS' "$ROOT/root/test.log"
step "make test: prove says Result: PASS" $?

# 4. Nothing skipped: a skip on a fresh machine is a missing install step.
# (a test's "# SKIP" line, or prove's "x.t .... skipped: why" for a whole file)
skips=$(grep -E '# ?(SKIP|skip)|\.t \.* ?skipped' "$ROOT/root/test.log" || true)
nskips=$(grep -c . <<<"$skips" || true)
if [ -n "$skips" ]; then
	echo "fresh: skipped tests:" >&2; echo "$skips" >&2
	echo "# skipped: $skips" | head -20
fi
[ -z "$skips" ]
step "make test: no test skipped ($nskips skip lines)" $?
echo "fresh: done in $(($(date +%s) - t0)) s" >&2
[ $FAILED = 0 ]
