#!/usr/bin/env bash
# Boot a qemu guest with emulated NVDIMMs and run the pmem package's DAX paths
# in it: an fsdax namespace with ext4 mounted -o dax, and a devdax namespace.
# See docs/dax-guest.md for what it proves (code paths and ordering on a real
# DAX mapping, not the speed of real persistent memory).
#
#   scripts/dax-guest.sh            # prints the guest's serial console, exits 0 if every step passed
#
# It installs what it lacks from Debian (qemu-system-x86, busybox-static, cpio,
# ndctl, e2fsprogs, kmod; root and apt needed once), extracts a Debian kernel
# and the NVDIMM modules from linux-image-amd64's .deb (no install hooks), and
# caches them under $MARVEL_DAX_CACHE. The guest boots twice on the same NVDIMM
# backing files: boot 1 sets up the namespaces and runs the tests, boot 2
# (a "power cycle") checks that what boot 1 committed is still there.
#
# Environment:
#   MARVEL_DAX_CACHE    cache directory (default ~/.cache/marvel/dax-guest)
#   MARVEL_DAX_TIMEOUT  seconds each boot may take before qemu is killed (default 600)
#   MARVEL_DAX_RUN      -test.run of the existing pmem tests run with TMPDIR on
#                       the DAX mount (default below; '^$' runs none)
#   MARVEL_DAX_REBOOT   0 skips the second boot (default 1)
#   MARVEL_DAX_LOG      where the serial console is written (default $MARVEL_DAX_CACHE/last.log)
#   MARVEL_DAX_NO_INSTALL=1  fail instead of running apt-get for a missing tool
#   MARVEL_LONG=1       run the guest's DAX tests without -short: every crash
#                       workload, 50 kills instead of 10 (several minutes more)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MARVEL_DAX_CACHE:-${HOME:-/root}/.cache/marvel/dax-guest}
TIMEOUT=${MARVEL_DAX_TIMEOUT:-600}
# Existing tests that run (not skip) with t.TempDir() on the DAX mount: the
# namespace, read-only stores, descriptor hand-off and the pool. The pool
# tests force emulated mode, so on DAX they prove only that emulated mode
# still works there; TestDAXGuestPool covers the pool in fsdax. The
# TestRegion* tests are written for emulated mode and skip on DAX.
RUN=${MARVEL_DAX_RUN:-'^(TestPool|TestNamespaceNames|TestReadOnlyStore|TestOpenFileFromDescriptor|TestFile)'}
REBOOT=${MARVEL_DAX_REBOOT:-1}
LOG=${MARVEL_DAX_LOG:-$CACHE/last.log}

T0=$(date +%s)
say() { echo "[dax-guest +$(($(date +%s) - T0))s] $*" >&2; }
die() { say "error: $*"; exit 2; }

mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dax-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 143' TERM INT

# --- tools -------------------------------------------------------------------

apt_updated=0
apt_install() {
	[ "${MARVEL_DAX_NO_INSTALL:-0}" != 1 ] || die "missing $*; install with: apt-get install $*"
	[ "$(id -u)" = 0 ] || die "missing $*; run as root or install: apt-get install $*"
	command -v apt-get >/dev/null || die "missing $* and no apt-get"
	if [ $apt_updated = 0 ]; then
		say "apt-get update"
		apt-get update -qq >&2
		apt_updated=1
	fi
	say "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

is_static() { ! ldd "$1" >/dev/null 2>&1; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && is_static /bin/busybox || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v ndctl >/dev/null || need+=(ndctl)
command -v mke2fs >/dev/null || need+=(e2fsprogs)
command -v depmod >/dev/null || need+=(kmod)
command -v ldd >/dev/null || need+=(libc-bin)
[ ${#need[@]} = 0 ] || apt_install "${need[@]}"
MKE2FS=$(command -v mke2fs)
NDCTL=$(command -v ndctl)
command -v go >/dev/null || die "go is not on PATH"

# --- kernel and modules (cached per kernel package version) ------------------

# Modules the guest loads, with their dependencies from modules.dep: the
# NVDIMM bus (nfit, libnvdimm), the pmem block device (nd_pmem), device-DAX
# (dax_pmem, device_dax) and ext4 (with crc32c, which ext4 asks for by name).
MODULES="crc32c_generic nfit nd_pmem dax_pmem device_dax ext4"

kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

KPKG=$(kernel_pkg || true)
if [ -z "$KPKG" ] && ! ls -d "$CACHE"/kernel/linux-image-* >/dev/null 2>&1; then
	if [ $apt_updated = 0 ] && [ "$(id -u)" = 0 ] && [ "${MARVEL_DAX_NO_INSTALL:-0}" != 1 ]; then
		say "apt-get update (no package lists to find the kernel)"
		apt-get update -qq >&2
		apt_updated=1
	fi
	KPKG=$(kernel_pkg || true)
fi
KVER_PKG=""
[ -z "$KPKG" ] || KVER_PKG=$(apt-cache policy "$KPKG" 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -n "$KPKG" ] && [ -n "$KVER_PKG" ]; then
	KDIR=$CACHE/kernel/${KPKG}_$KVER_PKG
else
	# No package lists: use the newest kernel cached before.
	KDIR=$(ls -d "$CACHE"/kernel/linux-image-* 2>/dev/null | sort -V | tail -1)
	[ -n "$KDIR" ] || die "cannot find the linux-image-amd64 kernel package (run apt-get update)"
fi

if [ ! -f "$KDIR/done" ]; then
	[ -n "$KPKG" ] || die "no kernel cached and no package lists"
	say "fetching $KPKG $KVER_PKG"
	rm -rf "$KDIR"
	mkdir -p "$KDIR/modules"
	x=$WORK/kernel
	mkdir -p "$x"
	(cd "$x" && apt-get download -qq "$KPKG=$KVER_PKG" >&2)
	# Extracting (not installing) runs no maintainer script or initramfs hook.
	dpkg-deb -x "$x"/*.deb "$x/root"
	kver=$(ls "$x/root/lib/modules")
	depmod -b "$x/root" "$kver"
	cp "$x/root/boot/vmlinuz-$kver" "$KDIR/vmlinuz"
	echo "$kver" >"$KDIR/release"
	dep=$x/root/lib/modules/$kver/modules.dep
	declare -A seen=()
	: >"$KDIR/modules/load.list"
	# load REL: dependencies first (modules.dep lists every dependency,
	# transitively), then the module itself.
	load() {
		local rel=$1 d
		[ -z "${seen[$rel]:-}" ] || return 0
		seen[$rel]=1
		for d in $(awk -v m="$rel:" '$1 == m { $1 = ""; print }' "$dep"); do
			load "$d"
		done
		mkdir -p "$KDIR/modules/$(dirname "$rel")"
		cp "$x/root/lib/modules/$kver/$rel" "$KDIR/modules/$rel"
		echo "$rel" >>"$KDIR/modules/load.list"
	}
	for m in $MODULES; do
		rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); if (n == m) { print $1; exit } }' "$dep")
		[ -n "$rel" ] || die "module $m not found in $KPKG"
		load "$rel"
	done
	rm -rf "$x"
	touch "$KDIR/done"
fi
say "kernel $(cat "$KDIR/release") from $(basename "$KDIR"); modules: $(tr '\n' ' ' <"$KDIR/modules/load.list" | sed 's|[^ ]*/||g')"

# --- initramfs ---------------------------------------------------------------

R=$WORK/root
mkdir -p "$R/bin" "$R/lib/modules" "$R/lib64" "$R/usr/lib"
cp /bin/busybox "$R/bin/busybox"
cp "$ROOT/scripts/dax-guest/init.sh" "$R/init"
chmod 755 "$R/init"
cp -a "$KDIR/modules/." "$R/lib/modules/"

# copy_dyn BIN: a dynamically linked tool (into /usr/sbin, ahead of busybox's
# applets of the same name on the guest's PATH), its shared libraries and the
# loader.
copy_dyn() {
	local bin=$1 lib
	mkdir -p "$R/usr/sbin"
	cp "$bin" "$R/usr/sbin/$(basename "$bin")"
	for lib in $(ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
}
copy_dyn "$MKE2FS"
copy_dyn "$NDCTL"
mkdir -p "$R/etc"
[ ! -f /etc/mke2fs.conf ] || cp /etc/mke2fs.conf "$R/etc/"

say "building the test binaries"
(
	cd "$ROOT"
	export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
	go build -ldflags='-s -w' -o "$R/bin/marvel" ./cmd/marvel &
	# One go test -c for both packages links them in parallel.
	go test -c -ldflags='-s -w' -o "$R/bin/" ./pmem ./pmem/crashproc
	wait $!
)
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$WORK/initramfs.cpio"
say "initramfs $(($(stat -c %s "$WORK/initramfs.cpio") >> 20)) MiB"

# --- boot --------------------------------------------------------------------

if [ -w /dev/kvm ]; then
	ACCEL=(-accel kvm -cpu host)
else
	# No KVM: TCG, with the max CPU model so that the guest has clwb and
	# clflushopt (qemu's default qemu64 model has only clflush).
	ACCEL=(-accel tcg,thread=multi -cpu max)
fi

# Two NVDIMMs of 256 MiB, backed by sparse files that persist across the
# two boots: nv0 becomes the fsdax namespace, nv1 the devdax one.
truncate -s 256M "$WORK/nv0.img" "$WORK/nv1.img"

: >"$LOG"
boot() {
	local phase=$1 start rc
	start=$(date +%s)
	say "boot $phase (${ACCEL[*]}, limit ${TIMEOUT}s)"
	set +e
	# --foreground keeps qemu in our process group, so that whoever kills
	# the group (scripts/daxguest on its deadline) kills qemu too.
	timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
		-machine pc,nvdimm=on "${ACCEL[@]}" -smp 2 -m 1G,slots=2,maxmem=4G \
		-object memory-backend-file,id=mem0,share=on,mem-path="$WORK/nv0.img",size=256M \
		-device nvdimm,id=nv0,memdev=mem0 \
		-object memory-backend-file,id=mem1,share=on,mem-path="$WORK/nv1.img",size=256M \
		-device nvdimm,id=nv1,memdev=mem1 \
		-kernel "$KDIR/vmlinuz" -initrd "$WORK/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 loglevel=4 marvel.phase=$phase marvel.long=${MARVEL_LONG:-0} marvel.run=$RUN" \
		-display none -monitor none -serial stdio -no-reboot </dev/null 2>&1 | tr -d '\r' | tee -a "$LOG"
	rc=${PIPESTATUS[0]}
	set -e
	echo "MARVEL-DAX-HOST boot $phase qemu exit $rc after $(($(date +%s) - start))s" | tee -a "$LOG"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		say "boot $phase: killed after ${TIMEOUT}s (MARVEL_DAX_TIMEOUT)"
		echo "MARVEL-DAX-HOST boot $phase killed after ${TIMEOUT}s" >>"$LOG"
	fi
	grep -q "^MARVEL-DAX-RESULT PASS phase=$phase" "$LOG"
}

ok=1
boot 1 || ok=0
if [ $ok = 1 ] && [ "$REBOOT" = 1 ]; then
	boot 2 || ok=0
fi
say "total $(($(date +%s) - T0))s; log: $LOG"
if [ $ok = 1 ]; then
	say "PASS"
	exit 0
fi
say "FAIL: $(grep -E '^MARVEL-DAX-(RESULT|STEP .* END rc=[1-9]|HOST .* killed)' "$LOG" | tr '\n' ';')"
exit 1
