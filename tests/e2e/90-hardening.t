#!/usr/bin/env bash
# File safety as root (issue 18): what a user (uid 65534 here, links and
# folders chowned to it) can plant must not make faultline write through it,
# and what a recording or a target names must not hang or flood it.
#   build-id cache: links at the predictable temporary names and at an xx
#     folder, a cache folder of another user or writable by all, the default
#     folder of root; a 3 GiB sparse object mapped PROT_EXEC
#   record -o / report -o / stat --json / check -o through a user's link;
#     a failed start keeps the old file
#   report on a FIFO at a mapped path and at the allocator's path, and on an
#     ELF whose .gnu_debuglink climbs to /dev/zero
#   a full disk (200 KiB tmpfs): the error says the command was killed, or
#     with --on-error detach that it goes on
#   the command runs as the user behind sudo (SUDO_UID) or --user
# Every hang is bounded by timeout(1): a hang is a failure, not a stuck run.
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
need_root
need_bin gcc objcopy strip readelf timeout "$PY3"
[ -x "$FAULTLINE" ] || skip_all "no $FAULTLINE (make build/faultline)"
[ -x "$EXAMPLES/churn" ] || skip_all "no $EXAMPLES/churn (make build/examples/churn)"
plan 47

REPO=$PWD
cd "$T" || exit 1
chmod 755 "$T"
U=65534
lines() { if [ -s "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# build-id of an ELF (lowercase hex), as the cache names it
build_id() { readelf -n "$1" 2>/dev/null | awk '/Build ID/ { print $3; exit }'; }
now_ms() { date +%s%3N; }
# a program mapping FILE executable, allocating a little, then sleeping a bit
cat >mapx.py <<'EOF'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
x = [bytearray(100) for i in range(100)]
time.sleep(0.2)
EOF
printf 'int f(void) { return 1; }\n' >tiny.c
gcc -shared -fPIC -Wl,--build-id -o obj.so tiny.c

# ------------------------------------------------------------ build-id cache
echo victim >victim
mkdir -p u/cache && chown -R $U u && chmod 700 u/cache
ids=$(for f in /bin/true $(ldd /bin/true | awk '/\// { print ($3 ~ /^\//) ? $3 : $1 }'); do build_id "$(readlink -f "$f")"; done)
# links at <id>.tmp.<pid> for the pid faultline will have (the subshell execs it)
(
	for id in $ids; do
		d=u/cache/${id:0:2}
		mkdir -p "$d"
		ln -s "$T/victim" "$d/${id:2}.tmp.$BASHPID"
	done
	chown -R -h $U u
	# no timeout(1) here: it would fork faultline under another pid
	exec env FAULTLINE_BUILDID_DIR="$T/u/cache" "$FAULTLINE" record -q --stacks -o c1.data -- /bin/true
) 2>c1.err
is "$(cat victim)" victim "cache: links planted at the temporary names of a user's cache folder: nothing written through them"
like "$(cat c1.err)" "owned by uid $U.*not used" "cache: a cache folder of another user is refused, in one line"
is "$(lines c1.err)" 1 "cache: that is the only line"
"$FAULTLINE" report c1.data >/dev/null 2>&1
is $? 0 "cache: the recording went on without the cache"

mkdir -p rc/cache vdir && chmod 700 rc/cache
id=$(build_id "$(readlink -f /bin/true)")
ln -s "$T/vdir" "rc/cache/${id:0:2}" && chown -h $U "rc/cache/${id:0:2}"
FAULTLINE_BUILDID_DIR="$T/rc/cache" timeout 60 "$FAULTLINE" record -q --stacks -o c2.data -- /bin/true 2>c2.err
is "$(ls -A vdir | wc -l)" 0 "cache: a user's link at an xx folder is not followed (nothing in the folder it names)"

mkdir -p ww && chmod 777 ww
FAULTLINE_BUILDID_DIR="$T/ww" timeout 60 "$FAULTLINE" record -q --stacks -o c3.data -- /bin/true 2>c3.err
is $? 0 "cache: a world-writable cache folder: the recording goes on"
like "$(cat c3.err)" "writable by everyone \\(mode 0777\\): not used" "cache: ... and one line says it is not used"
is "$(ls -A ww | wc -l)" 0 "cache: ... and nothing is written in it"

mkdir -p home
env -u FAULTLINE_BUILDID_DIR HOME="$T/home" timeout 60 "$FAULTLINE" record -q --stacks -o c4.data -- /bin/true 2>c4.err
[ ! -e home/.cache ]; ok $? "cache: root's default cache is not in \$HOME (a sudo -E user's)"
[ -d /var/cache/faultline/build-id ] && [ "$(stat -c %u:%a /var/cache/faultline/build-id)" = 0:700 ]
ok $? "cache: root's default cache is /var/cache/faultline/build-id, root's, mode 0700"

# a 3 GiB sparse ELF (20 KB on disk) mapped PROT_EXEC
cp obj.so sparse.so && truncate -s 3G sparse.so
rm -rf sc
t0=$(now_ms)
FAULTLINE_BUILDID_DIR="$T/sc" timeout 120 "$FAULTLINE" record -q --stacks -o sp.data -- "$PY3" mapx.py sparse.so 2>sp.err
rc=$?; t1=$(now_ms)
is $rc 0 "sparse 3 GiB mapping: record succeeds"
cmp_ok "$(du -sk sc | cut -f1)" -lt 102400 "sparse 3 GiB mapping: under 100 MB written into the cache"
cmp_ok $((t1 - t0)) -lt 10000 "sparse 3 GiB mapping: record stays fast ($((t1 - t0)) ms)"
like "$(cat sp.err)" "sparse.so is larger than the build-id cache's bound .*not copied" "sparse 3 GiB mapping: record says it was not copied"
FAULTLINE_BUILDID_DIR="$T/sc" timeout 60 "$FAULTLINE" report sp.data >sp.rep 2>&1
like "$(cat sp.rep)" "1 object was not copied into the build-id cache" "sparse 3 GiB mapping: report says so"
rm -f sparse.so

# ------------------------------------------------------------ files faultline writes
ln -s "$T/victim" out.data && chown -h $U out.data
timeout 60 "$FAULTLINE" record -q -o out.data -- /bin/true 2>o1.err
rc=$?
is "$(cat victim)" victim "-o: record does not write through a user's link at the file"
isnt $rc 0 "-o: ... and fails"
is "$(lines o1.err)" 1 "-o: ... with one line"
mkdir -p u2 && ln -s "$T" u2/up && chown -R -h $U u2
timeout 60 "$FAULTLINE" record -q -o u2/up/through.data -- /bin/true 2>o2.err
[ ! -e through.data ]; ok $? "-o: record does not write through a user's link in the path"
"$FAULTLINE" record -q -o good.data -- /bin/true
timeout 60 "$FAULTLINE" report -o out.data good.data 2>/dev/null
is "$(cat victim)" victim "report -o: not through a user's link"
"$FAULTLINE" report --format json -o cur.json good.data
timeout 60 "$FAULTLINE" stat -q --json out.data -- /bin/true >/dev/null 2>&1
is "$(cat victim)" victim "stat --json FILE: not through a user's link"
timeout 60 "$FAULTLINE" check --baseline cur.json cur.json -o out.data >/dev/null 2>&1
is "$(cat victim)" victim "check -o: not through a user's link"
is "$(stat -c %a good.data)" 600 "-o: a new recording is mode 0600"
ls -A | grep -q '\.tmp$'
isnt $? 0 "-o: no temporary file is left behind"

echo important >important.data
timeout 60 "$FAULTLINE" record -o important.data -- /nonexistent 2>/dev/null
is $? 127 "failed start: exit 127"
is "$(cat important.data 2>/dev/null)" important "failed start: an existing recording is left untouched"

# ------------------------------------------------------------ files a recording names
mkdir -p empty
cp obj.so fifo.so
"$FAULTLINE" record -q --stacks -o ff.data -- "$PY3" mapx.py fifo.so
rm fifo.so && mkfifo fifo.so
t0=$(now_ms)
FAULTLINE_BUILDID_DIR="$T/empty" timeout 20 "$FAULTLINE" report ff.data >ff.rep 2>ff.err
rc=$?; t1=$(now_ms)
is $rc 0 "FIFO at a mapped path: report returns"
cmp_ok $((t1 - t0)) -lt 10000 "FIFO at a mapped path: promptly ($((t1 - t0)) ms)"
cmp_ok "$(lines ff.err)" -le 1 "FIFO at a mapped path: at most one line on stderr"

if gcc -O1 -static -o sprog "$REPO/examples/churn.c" 2>/dev/null; then
	"$FAULTLINE" record -q --stacks -o fa.data -- ./sprog
	rm sprog && mkfifo sprog
	t0=$(now_ms)
	FAULTLINE_BUILDID_DIR="$T/empty" timeout 20 "$FAULTLINE" report fa.data >fa.rep 2>fa.err
	rc=$?; t1=$(now_ms)
	is $rc 0 "FIFO at the allocator's path (a static program): report returns"
	cmp_ok $((t1 - t0)) -lt 10000 "FIFO at the allocator's path: promptly ($((t1 - t0)) ms)"
	cmp_ok "$(lines fa.err)" -le 1 "FIFO at the allocator's path: at most one line on stderr"
else
	for i in 1 2 3; do ok 0 "# SKIP no static libc"; done
fi

# an ELF without build-id (so libdw checks the link's CRC) linking ../../dev/zero
gcc -O1 -g -Wl,--build-id=none -o dz "$REPO/examples/churn.c"
strip --strip-debug dz
{ printf '../../../../../../../../../../dev/zero\0\0'; printf '\001\002\003\004'; } >dl.sec
objcopy --add-section .gnu_debuglink=dl.sec dz
"$FAULTLINE" record -q --stacks -o dz.data -- ./dz
t0=$(now_ms)
timeout 20 "$FAULTLINE" report dz.data >dz.rep 2>dz.err
rc=$?; t1=$(now_ms)
is $rc 0 "debug link to ../../dev/zero: report returns"
cmp_ok $((t1 - t0)) -lt 10000 "debug link to ../../dev/zero: promptly ($((t1 - t0)) ms)"
like "$(cat dz.rep)" "main \\(dz\\)" "debug link to ../../dev/zero: the program's frames are still named"

# ------------------------------------------------------------ a full disk
cat >busy.py <<'EOF'
import sys, time
t = time.time()
open(sys.argv[1], "w").write("started\n")
while time.time() - t < float(sys.argv[2]):
    x = [bytearray(64) for i in range(2000)]
open(sys.argv[1], "a").write("finished\n")
EOF
mkdir -p full
if mount -t tmpfs -o size=200k faultline-e2e-full full; then
	timeout 60 "$FAULTLINE" record --stacks=all --call-times=exact -o full/x.data -- "$PY3" busy.py "$T/mark1" 3 2>fd1.err
	rc=$?
	is $rc 125 "full disk: record exits 125"
	is "$(lines fd1.err)" 1 "full disk: one line"
	like "$(cat fd1.err)" "No space left on device.*the command \\(pid [0-9]+\\) was killed" "full disk: it says the command was killed"
	pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' fd1.err)
	[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; ok $? "full disk: ... and it is gone"
	timeout 20 "$FAULTLINE" report full/x.data >/dev/null 2>fd1.rep
	like "$(cat fd1.rep)" "cut short" "full disk: the recording kept is cut short, and report says so"
	rm -f full/*
	timeout 60 "$FAULTLINE" record --stacks=all --call-times=exact --on-error detach -o full/x.data -- "$PY3" busy.py "$T/mark2" 2 2>fd2.err
	like "$(cat fd2.err)" "No space left on device.*goes on, untraced \\(--on-error detach\\)" "full disk, --on-error detach: it says the command goes on"
	for i in $(seq 100); do grep -q finished mark2 2>/dev/null && break; sleep 0.2; done
	like "$(cat mark2 2>/dev/null)" finished "full disk, --on-error detach: the command ran to its end"
	umount full
else
	for i in 1 2 3 4 5 6 7; do ok 0 "# SKIP cannot mount a tmpfs"; done
fi

# ------------------------------------------------------------ the user behind sudo
uid_of() { sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "$1"; }
SUDO_UID=$U SUDO_GID=$U timeout 60 "$FAULTLINE" record -q -o s1.data -- /bin/sh -c 'cat /proc/self/status' >s1.out
is "$(uid_of s1.out)" $U "SUDO_UID: the command runs as the user behind sudo"
like "$(grep ^Groups: s1.out)" "^Groups:[[:space:]]*$U[[:space:]]*$" "SUDO_UID: with that user's groups, none of root's"
timeout 60 "$FAULTLINE" record -q -o s2.data --user nobody -- /bin/sh -c 'cat /proc/self/status' >s2.out
is "$(uid_of s2.out)" $U "--user nobody: the command runs as nobody"
SUDO_UID=$U timeout 60 "$FAULTLINE" record -q -o s3.data --user root -- /bin/sh -c 'cat /proc/self/status' >s3.out
is "$(uid_of s3.out)" 0 "--user root: root, when asked"
# the program in a folder the user may enter (the checkout may be under root's 0700 home)
ud=$(mktemp -d /tmp/faultline-user.XXXXXX) && chmod 755 "$ud" && cp "$EXAMPLES/churn" "$ud/"
SUDO_UID=$U SUDO_GID=$U timeout 60 "$FAULTLINE" record -q --stacks -o s4.data -- "$ud/churn" >/dev/null
rc=$?
"$FAULTLINE" report s4.data >s4.rep 2>&1
is "$rc/$?" 0/0 "SUDO_UID: a recording with --stacks of the user's command is whole"
rm -rf "$ud"

done_testing
