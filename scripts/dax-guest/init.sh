#!/bin/busybox sh
# /init of the dax-guest initramfs (see scripts/dax-guest.sh, docs/dax-guest.md).
#
# Runs as PID 1 in a qemu guest that has two emulated NVDIMMs: it loads the
# NVDIMM modules, turns the first NVDIMM into an fsdax namespace with an ext4
# filesystem mounted -o dax at /mnt/dax, the second into a devdax namespace
# (/dev/daxN.M), runs the pmem tests and `marvel pmem` on them, prints every
# step between markers on the serial console, and powers off.
#
# Markers (one per line, parsed by scripts/daxguest):
#   MARVEL-DAX-STEP <name> BEGIN
#   MARVEL-DAX-STEP <name> END rc=<n>
#   MARVEL-DAX-RESULT PASS|FAIL failed=<names>
#
# Parameters come from the kernel command line (read from /proc/cmdline):
#   marvel.run=REGEXP   -test.run of the existing pmem tests run on /mnt/dax
#   marvel.phase=N      1: set up and test; 2: only reopen what phase 1 left
#                       (a second boot of the same NVDIMM backing files)
#   marvel.long=1       run the DAX tests and the kill -9 test without -short
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/bin
mkdir -p /proc /sys /dev /tmp /mnt/dax /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

RUN='^$'
PHASE=1
SHORT=-test.short
set -f # the -test.run regexp must not glob
for a in $(cat /proc/cmdline); do
	case "$a" in
	marvel.run=*) RUN="${a#marvel.run=}" ;;
	marvel.phase=*) PHASE="${a#marvel.phase=}" ;;
	marvel.long=1) SHORT= ;;
	esac
done
set +f

FAILED=""
# step NAME CMD...: run CMD between markers, remember a failure.
step() {
	name=$1
	shift
	echo "MARVEL-DAX-STEP $name BEGIN"
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$@" 2>&1
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "MARVEL-DAX-STEP $name END rc=$rc secs=$(awk "BEGIN{print $t1-$t0}")"
	[ $rc -eq 0 ] || FAILED="$FAILED $name"
	return $rc
}

finish() {
	sync
	if [ -z "$FAILED" ]; then
		echo "MARVEL-DAX-RESULT PASS phase=$PHASE"
	else
		echo "MARVEL-DAX-RESULT FAIL phase=$PHASE failed=$(echo $FAILED | tr ' ' ,)"
	fi
	umount /mnt/dax 2>/dev/null
	poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
}

load_modules() {
	while read -r ko; do
		[ -n "$ko" ] || continue
		insmod "/lib/modules/$ko" || { echo "insmod $ko failed"; return 1; }
	done </lib/modules/load.list
}

# wait_for PATH: the devices appear asynchronously after the modules load.
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ] || { echo "$1 did not appear"; return 1; }
}

setup_phase1() {
	wait_for /sys/bus/nd/devices/namespace0.0 || return 1
	wait_for /sys/bus/nd/devices/namespace1.0 || return 1
	ndctl list -N -R || return 1
	# Label-less NVDIMMs start as raw namespaces, which cannot be mounted
	# -o dax: give them a pfn (fsdax) and a dax (devdax) info block.
	ndctl create-namespace -f -e namespace0.0 -m fsdax || return 1
	ndctl create-namespace -f -e namespace1.0 -m devdax || return 1
	wait_for /dev/pmem0 || return 1
	# Full path: busybox's shell prefers its own mke2fs applet (ext2 only).
	/usr/sbin/mke2fs -q -t ext4 -F -b 4096 /dev/pmem0 || return 1
	mount_dax
}

mount_dax() {
	wait_for /dev/pmem0 || return 1
	mount -t ext4 -o dax /dev/pmem0 /mnt/dax || return 1
	grep /mnt/dax /proc/mounts
	dmesg | grep -i dax | tail -5
	mkdir -p /mnt/dax/ns /mnt/dax/tmp /mnt/dax/persist
}

devdax_path() {
	for d in /dev/dax*; do
		[ -c "$d" ] && { echo "$d"; return 0; }
	done
	return 1
}

echo "MARVEL-DAX-GUEST booted: $(uname -r), phase $PHASE, $(grep -c ^processor /proc/cpuinfo) cpus"
echo "cpu flags: $(grep -m1 ^flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(clwb|clflushopt|clflush|avx2)$' | tr '\n' ' ')"
step modules load_modules || finish

export TMPDIR=/mnt/dax/tmp HOME=/tmp
if [ "$PHASE" = 1 ]; then
	step setup setup_phase1 || finish
else
	step mount mount_dax || finish
	wait_for /dev/dax1.0
fi
DEV=$(devdax_path)
echo "devdax device: ${DEV:-none}"
export MARVEL_DAX_DIR=/mnt/dax/ns MARVEL_DAX_DEV=$DEV MARVEL_DAX_PERSIST=/mnt/dax/persist

if [ "$PHASE" = 1 ]; then
	# New DAX-specific tests: mode, flush method, counters, crash points
	# on the real mapping, devdax. They leave regions in /mnt/dax/persist
	# and on the devdax device for phase 2.
	step dax-tests /bin/pmem.test $SHORT -test.v -test.count=1 -test.run '^TestDAXGuest' -test.timeout=10m
	# Existing pmem tests, with their t.TempDir() on the DAX mount.
	step pmem-tests /bin/pmem.test -test.short -test.v -test.count=1 -test.run "$RUN" -test.timeout=10m
	# SIGKILLed writers on the fsdax mount (crashproc's disk flavour).
	step kill9 /bin/crashproc.test $SHORT -test.v -test.count=1 -test.run '^TestKill9Disk$' -test.timeout=10m
	step cli-counter sh -c '
		set -e
		for i in 1 2 3; do marvel pmem counter --dir /mnt/dax/ns --name fn.guest.counter; done
		marvel pmem ls /mnt/dax/ns
		marvel pmem info /mnt/dax/ns
		marvel pmem info --json /mnt/dax/ns | tee /tmp/info.json
		grep -q "\"mode\": *\"fsdax\"" /tmp/info.json
		marvel pmem check /mnt/dax/ns'
	if [ -n "$DEV" ]; then
		step cli-devdax sh -c "
			set -e
			marvel pmem info --pmem devdax --json $DEV | tee /tmp/dev.json
			grep -q '\"mode\": *\"devdax\"' /tmp/dev.json
			marvel pmem check $DEV"
	fi
else
	# Second boot of the same NVDIMM backing files: what phase 1 committed
	# must be there, found through a fresh kernel, filesystem and mapping.
	MARVEL_DAX_REBOOT=1 step dax-reboot /bin/pmem.test -test.v -test.count=1 -test.run '^TestDAXReboot$' -test.timeout=5m
	step cli-reopen sh -c '
		set -e
		marvel pmem info /mnt/dax/ns
		test "$(marvel pmem counter --dir /mnt/dax/ns --name fn.guest.counter)" = 4
		marvel pmem check /mnt/dax/ns'
fi
finish
