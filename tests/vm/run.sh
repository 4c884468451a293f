#!/usr/bin/env bash
# tests/vm/run.sh - the kernel-matrix test (`make vm-test`, run by .ci/run):
# tests/vm/checks.sh on the host's kernel, then under qemu (TCG: no KVM
# needed) on Debian 12's own kernel (linux-image-amd64, 6.1.x; its BTF is
# built in), with this checkout's build. One TAP stream on stdout; each
# line names the kernel (uname -r) it came from.
#
# usage: tests/vm/run.sh [--guest-only]       (after `make all`, as root)
#
# Cached under $FAULTLINE_CACHE (default /var/cache/faultline/vm): the
# kernel package (apt-get download, the version linux-image-amd64 depends
# on now) and the guest's root filesystem (debootstrap minbase plus the
# libraries faultline links and the tools the checks run; the mirror is the
# host's own apt source for bookworm). Each run packs that root, the build
# (build/faultline, build/librefalloc.so, build/libfaultline-preload.so,
# build/examples) and tests/ into an
# initramfs: the guest needs no disk, no modules and no network. The guest's
# /init runs the checks, prints them on the serial console and powers off.
# VM_TIMEOUT (seconds, default 1500) bounds the guest; VM_MEM (default 4G);
# VM_LOGLEVEL (default 3) is the guest kernel's console loglevel (7: soft-lockup stacks);
# VM_APPEND adds to the guest kernel's command line (softlockup_all_cpu_backtrace=1);
# VM_CMD runs another command in the guest; VM_KEEP_CONSOLE=FILE keeps the
# guest's console.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${FAULTLINE_CACHE:-/var/cache/faultline}/vm
SUITE=bookworm
# what the guest needs: faultline's libraries, the checks' tools
GUEST_PKGS=libbpf1,libelf1,libdw1,zlib1g,libzstd1,libunwind8,strace,procps,python3,perl,gzip,sqlite3,libasan8,libubsan1,kmod
ROOTFS=$CACHE/rootfs-$SUITE-$(echo "$GUEST_PKGS" | md5sum | cut -c1-8).tar
TIMEOUT=${VM_TIMEOUT:-1500}

die() { echo "vm: $*" >&2; echo "Bail out! $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, BPF)"
for b in qemu-system-x86_64 debootstrap cpio; do
	command -v $b >/dev/null || die "$b not installed (make deps-vm)"
done
for f in build/faultline build/librefalloc.so build/libfaultline-preload.so build/examples/seed_claims build/examples/churn; do
	[ -x "$REPO/$f" ] || [ -f "$REPO/$f" ] || die "no $f: make all first"
done
mkdir -p "$CACHE" || die "cannot create $CACHE"

# The host's mirror for bookworm (the fresh-machine test's reader).
. "$REPO/tests/fresh/mirror.sh"
MIRROR=$(host_mirror "$SUITE") ||
	die "no deb source for $SUITE in the host's apt sources"

# The kernel: the image linux-image-amd64 depends on, unpacked once.
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$KPKG" ] || die "apt-cache knows no linux-image-amd64 (apt-get update?)"
KDIR=$CACHE/$KPKG
if ! ls "$KDIR"/boot/vmlinuz-* >/dev/null 2>&1; then
	echo "vm: downloading $KPKG" >&2
	(cd "$CACHE" && apt-get download "$KPKG" >&2) || die "apt-get download $KPKG failed"
	rm -rf "$KDIR.tmp" && dpkg-deb -x "$CACHE/${KPKG}"_*.deb "$KDIR.tmp" && mv "$KDIR.tmp" "$KDIR" ||
		die "cannot unpack $KPKG"
	rm -f "$CACHE/${KPKG}"_*.deb
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)

if [ ! -s "$ROOTFS" ]; then
	echo "vm: building the guest root ($SUITE minbase + $GUEST_PKGS from $MIRROR; cached as $ROOTFS)" >&2
	tmp=$(mktemp -d "$CACHE/debootstrap.XXXXXX") || die "mktemp failed"
	if ! debootstrap --variant=minbase --include="$GUEST_PKGS" "$SUITE" "$tmp/root" "$MIRROR" >"$tmp/log" 2>&1; then
		tail -20 "$tmp/log" >&2; rm -rf "$tmp"; die "debootstrap failed"
	fi
	rm -rf "$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/usr/share/{doc,man,locale}
	tar -C "$tmp/root" -cf "$ROOTFS.tmp" . && mv "$ROOTFS.tmp" "$ROOTFS" || { rm -rf "$tmp"; die "cannot write $ROOTFS"; }
	rm -rf "$tmp"
fi

WORK=$(mktemp -d /var/tmp/faultline-vm.XXXXXX) || die "mktemp failed"
QEMU=
cleanup() { [ -n "$QEMU" ] && kill "$QEMU" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The host's own results first (the same checks, the same build).
HOST_TAP=$WORK/host.tap
if [ "${1:-}" != --guest-only ]; then
	echo "vm: checks on the host's kernel $(uname -r)" >&2
	bash "$REPO/tests/vm/checks.sh" >"$HOST_TAP" 2>&1
else
	: >"$HOST_TAP"
fi

R=$WORK/root
mkdir -p "$R" && tar -C "$R" -xf "$ROOTFS" || die "cannot unpack $ROOTFS"
mkdir -p "$R/faultline/build" "$R/faultline/tests"
cp -a "$REPO/build/faultline" "$REPO/build/librefalloc.so" "$REPO/build/libfaultline-preload.so" "$REPO/build/examples" "$R/faultline/build/"
cp -a "$REPO/tests/e2e" "$REPO/tests/vm" "$R/faultline/tests/"
cat >"$R/init" <<'EOF'
#!/bin/bash
# tests/vm/run.sh's guest init: mounts, the checks on the console, power off
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /run /tmp; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t bpf bpf /sys/fs/bpf; mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
echo "VM-BEGIN $(uname -r)"
cd /faultline && bash -c "$(cat /vm-cmd)" 2>&1 | sed -u 's/^/VM: /'
echo "VM-END rc=${PIPESTATUS[0]}"
echo o >/proc/sysrq-trigger
sleep 10
EOF
chmod 755 "$R/init"
# VM_CMD: another command for the guest (a look at one failure)
echo "${VM_CMD:-bash tests/vm/checks.sh}" >"$R/vm-cmd"
(cd "$R" && find . -print0 | cpio --null -o -H newc --quiet) >"$WORK/initrd" || die "cannot pack the initramfs"
rm -rf "$R"

echo "vm: booting $(basename "$VMLINUZ") under qemu (TCG, $(du -m "$WORK/initrd" | cut -f1) MiB initramfs)" >&2
t0=$(date +%s)
# thread=single: one host thread runs both vCPUs in turn. With multi-threaded
# TCG (the default) the 6.1 guest livelocked in about one run of three: both
# vCPUs at a jump-label site in syscall_trace_enter, one in asm_exc_int3,
# i.e. the kernel's int3-based live patching (text_poke_bp, as a tracepoint's
# static key flips when faultline attaches or detaches) never seen complete by
# the other vCPU's translated code; soft lockups for 600 s and more, an idle
# host. Stacks with VM_LOGLEVEL=7 VM_APPEND=softlockup_all_cpu_backtrace=1.
timeout "$TIMEOUT" qemu-system-x86_64 -machine q35 -accel tcg,thread=single -cpu max -smp 2 -m "${VM_MEM:-4G}" \
	-nographic -no-reboot -serial stdio -monitor none -display none -nic none \
	-kernel "$VMLINUZ" -initrd "$WORK/initrd" \
	-append "console=ttyS0 rdinit=/init panic=-1 loglevel=${VM_LOGLEVEL:-3} mitigations=off ${VM_APPEND:-}" \
	</dev/null >"$WORK/console" 2>&1 &
QEMU=$!
wait $QEMU
qrc=$?
QEMU=
tr -d '\r' <"$WORK/console" >"$WORK/console.txt"
echo "vm: guest done in $(($(date +%s) - t0)) s (qemu exit $qrc)" >&2
GUEST_TAP=$WORK/guest.tap
sed -n 's/^VM: //p' "$WORK/console.txt" >"$GUEST_TAP"
[ -n "${VM_KEEP_CONSOLE:-}" ] && cp "$WORK/console.txt" "$VM_KEEP_CONSOLE"
if ! grep -q 'VM-END' "$WORK/console.txt"; then
	echo "vm: the guest did not finish (timeout ${TIMEOUT}s or a crash); its console's end:" >&2
	tail -30 "$WORK/console.txt" >&2
fi
# A guest whose watchdog reported a soft lockup or an RCU stall: say so next
# to the result, with the host's load (a TCG guest on a busy host starves).
if grep -q 'soft lockup\|rcu_preempt kthread starved\|rcu: INFO' "$WORK/console.txt"; then
	echo "vm: the guest's watchdog reported soft lockups or RCU stalls (host load average: $(cut -d' ' -f1-3 /proc/loadavg)); VM_LOGLEVEL=7 shows their stacks" >&2
fi

# One TAP stream: the host's and the guest's tests, renumbered; a guest that
# did not finish is a failure.
gk=$(grep -o 'VM-BEGIN [^ ]*' "$WORK/console.txt" | head -1 | cut -d' ' -f2)
awk -v gk="${gk:-unknown}" -v ended="$(grep -c 'VM-END' "$WORK/console.txt")" '
	/^(not )?ok / { n++; nt = $1 == "not"; sub(/^(not )?ok [0-9]+/, (nt ? "not ok " : "ok ") n); lines[n] = $0; bad += nt; next }
	/^#/ { ln[n] = ln[n] "\n" $0; next }
	END {
		n++; lines[n] = (ended ? "ok " : "not ok ") n " - the guest (kernel " gk ") ran the checks to the end"
		if (!ended) bad++
		print "1.." n
		if (ln[0] != "") print substr(ln[0], 2)
		for (i = 1; i <= n; i++) { print lines[i]; if (ln[i] != "") print substr(ln[i], 2) }
		exit bad ? 1 : 0
	}' "$HOST_TAP" "$GUEST_TAP"
