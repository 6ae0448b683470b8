#!/usr/bin/env bash
# Prepares persistent memory on an OpenWhisk invoker host for Marvel action
# containers: an fsdax namespace with a DAX-mounted filesystem and a Marvel
# directory on it, a devdax character device, or (no PMEM) a plain directory.
# Each step says what it does and shows its command; --dry-run shows them all
# and runs nothing. See docs/openwhisk.md.
#
#   prepare-pmem.sh --fsdax /dev/pmem0 /mnt/pmem     # -> /mnt/pmem/marvel
#   prepare-pmem.sh --devdax                         # -> /dev/daxX.Y
#   prepare-pmem.sh --emulate /var/lib/marvel        # just the directory
#   prepare-pmem.sh --dry-run --fsdax /dev/pmem0 /mnt/pmem
set -euo pipefail

usage() {
	cat <<'EOF'
Usage:
  prepare-pmem.sh [options] --fsdax DEVICE MOUNTPOINT
  prepare-pmem.sh [options] --devdax
  prepare-pmem.sh [options] --emulate DIR

Modes:
  --fsdax DEVICE MOUNTPOINT
        Create an fsdax namespace (unless DEVICE, e.g. /dev/pmem0, exists),
        make an ext4 or xfs filesystem on it (unless it has one), mount it
        with -o dax at MOUNTPOINT, and create MOUNTPOINT/marvel: the
        directory to bind-mount into action containers (MARVEL_DATA).
  --devdax
        Create a device-DAX namespace (/dev/daxX.Y) with 2 MiB alignment.
        One device holds one Marvel region (and no files); marvel runtime
        does not take a device as its data directory yet.
  --emulate DIR
        No persistent memory: only create DIR (regions are then ordinary
        files, mapped in emulated mode).

Options:
  --dry-run         print the commands, run nothing (no root needed)
  --region NAME     ndctl region of a new namespace (default region0)
  --size SIZE       size of a new namespace (default: the region's free space)
  --reconfig NS     reconfigure the existing namespace NS (e.g. namespace0.0)
                    instead of creating one; DESTROYS the data on it
  --fs ext4|xfs     filesystem for --fsdax (default ext4)
  --force           make the filesystem even if DEVICE already has one;
                    DESTROYS the data on it
  --align SIZE      alignment of a devdax namespace (default 2M)
  --subdir NAME     the Marvel directory under MOUNTPOINT (default marvel)
  --mode MODE       permissions of the Marvel directory (default 0770)
  --owner USER[:GROUP]
                    owner of the Marvel directory (default: left as created;
                    with docker userns-remap, the remapped root uid)
  -h, --help        this help
EOF
}

die() {
	printf 'prepare-pmem.sh: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'prepare-pmem.sh: %s\n\n' "$*" >&2
	usage >&2
	exit 2
}

DRY_RUN=0
MODE=""
DEVICE=""
MOUNTPOINT=""
DIR=""
REGION=region0
SIZE=""
RECONFIG=""
FS=ext4
FORCE=0
ALIGN=2M
SUBDIR=marvel
DIR_MODE=0770
OWNER=""

need_value() {
	# need_value FLAG COUNT ARGC: FLAG needs COUNT values.
	if [ "$3" -le "$2" ]; then
		usage_error "$1 needs $2 value(s)"
	fi
}

set_mode() {
	if [ -n "$MODE" ]; then
		usage_error "choose one of --fsdax, --devdax, --emulate"
	fi
	MODE="$1"
}

while [ "$#" -gt 0 ]; do
	case "$1" in
	--dry-run) DRY_RUN=1; shift ;;
	--fsdax)
		set_mode fsdax
		need_value "$1" 2 "$#"
		DEVICE="$2"; MOUNTPOINT="$3"; shift 3 ;;
	--devdax) set_mode devdax; shift ;;
	--emulate)
		set_mode emulate
		need_value "$1" 1 "$#"
		DIR="$2"; shift 2 ;;
	--region) need_value "$1" 1 "$#"; REGION="$2"; shift 2 ;;
	--size) need_value "$1" 1 "$#"; SIZE="$2"; shift 2 ;;
	--reconfig) need_value "$1" 1 "$#"; RECONFIG="$2"; shift 2 ;;
	--fs) need_value "$1" 1 "$#"; FS="$2"; shift 2 ;;
	--force) FORCE=1; shift ;;
	--align) need_value "$1" 1 "$#"; ALIGN="$2"; shift 2 ;;
	--subdir) need_value "$1" 1 "$#"; SUBDIR="$2"; shift 2 ;;
	--mode) need_value "$1" 1 "$#"; DIR_MODE="$2"; shift 2 ;;
	--owner) need_value "$1" 1 "$#"; OWNER="$2"; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown argument: $1" ;;
	esac
done

[ -n "$MODE" ] || usage_error "choose one of --fsdax, --devdax, --emulate"
case "$FS" in ext4 | xfs) ;; *) usage_error "--fs must be ext4 or xfs, not $FS" ;; esac
[[ "$DIR_MODE" =~ ^[0-7]{3,4}$ ]] || usage_error "--mode must be octal, like 0770, not $DIR_MODE"
[[ "$SUBDIR" =~ ^[A-Za-z0-9._-]+$ && "$SUBDIR" != . && "$SUBDIR" != .. ]] ||
	usage_error "--subdir must be one path component, not $SUBDIR"

# shellcheck source=scripts/openwhisk/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

# need_root refuses to go on without root, except in a dry run.
need_root() {
	if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
		die "$MODE needs root (or try --dry-run to see the commands)"
	fi
}

# need_cmd checks that a command exists (not in a dry run); $2 is its package.
need_cmd() {
	if [ "$DRY_RUN" -eq 0 ] && ! command -v "$1" >/dev/null 2>&1; then
		die "$1 is not installed (Debian/Ubuntu: apt-get install $2)"
	fi
}

# marvel_dir creates the Marvel directory with its mode and owner.
marvel_dir() {
	local d="$1"
	step "create the Marvel namespace directory $d (mode $DIR_MODE${OWNER:+, owner $OWNER})"
	run mkdir -p "$d"
	run chmod "$DIR_MODE" "$d"
	if [ -n "$OWNER" ]; then
		run chown "$OWNER" "$d"
	fi
}

# namespace creates (or reconfigures) a namespace in mode $1 with extra
# ndctl arguments after it.
namespace() {
	local mode="$1"
	shift
	local args=(ndctl create-namespace "--mode=$mode")
	if [ -n "$RECONFIG" ]; then
		step "reconfigure namespace $RECONFIG as $mode (its data is destroyed)"
		args+=(--force "--reconfig=$RECONFIG")
	else
		step "create a namespace in $mode mode in $REGION"
		args+=("--region=$REGION")
	fi
	if [ -n "$SIZE" ]; then
		args+=("--size=$SIZE")
	fi
	run "${args[@]}" "$@"
}

prepare_fsdax() {
	case "$DEVICE" in /dev/?*) ;; *) usage_error "DEVICE must be a /dev path, like /dev/pmem0, not $DEVICE" ;; esac
	case "$MOUNTPOINT" in /?*) ;; *) usage_error "MOUNTPOINT must be an absolute path, not $MOUNTPOINT" ;; esac
	need_root
	need_cmd mount mount
	need_cmd findmnt util-linux
	need_cmd blkid util-linux

	# 1. The namespace.
	if [ -n "$RECONFIG" ]; then
		need_cmd ndctl ndctl
		namespace fsdax
	elif [ "$DRY_RUN" -eq 1 ]; then
		namespace fsdax
		note "(skipped when $DEVICE already exists)"
	elif [ -b "$DEVICE" ]; then
		step "$DEVICE exists: no new namespace (its mode must be fsdax; see ndctl list -N)"
	else
		need_cmd ndctl ndctl
		namespace fsdax
	fi
	if [ "$DRY_RUN" -eq 0 ] && [ ! -b "$DEVICE" ]; then
		die "$DEVICE is not a block device; if ndctl made a namespace, its \"blockdev\" above is the device to pass"
	fi

	# 2. The filesystem. XFS needs reflink off for DAX; both use 2 MiB
	# stripes so that the filesystem can hand out huge-page extents.
	local fs="$FS" existing=""
	if [ "$DRY_RUN" -eq 0 ]; then
		existing="$(blkid -o value -s TYPE "$DEVICE" || true)"
	fi
	if [ -n "$existing" ] && [ "$FORCE" -eq 0 ]; then
		step "$DEVICE already has a $existing filesystem: keeping it (--force makes a new $FS one)"
		case "$existing" in ext4 | xfs) fs="$existing" ;; *) die "$existing cannot be mounted with -o dax; use --force --fs ext4|xfs" ;; esac
	else
		step "make an $fs filesystem on $DEVICE (any data on it is destroyed)"
		if [ "$fs" = xfs ]; then
			need_cmd mkfs.xfs xfsprogs
			run mkfs.xfs -f -m reflink=0 -d su=2m,sw=1 "$DEVICE"
		else
			need_cmd mkfs.ext4 e2fsprogs
			run mkfs.ext4 -F -b 4096 -E stride=512,stripe_width=512 "$DEVICE"
		fi
		if [ "$DRY_RUN" -eq 1 ]; then
			note "(skipped when $DEVICE already has an ext4 or xfs filesystem, unless --force)"
		fi
	fi

	# 3. The DAX mount.
	local opts=""
	if [ "$DRY_RUN" -eq 0 ]; then
		opts="$(findmnt -rn -o OPTIONS --mountpoint "$MOUNTPOINT" || true)"
	fi
	if [ -n "$opts" ]; then
		case ",$opts," in
		*,dax,* | *,dax=always,*) step "$MOUNTPOINT is already mounted with DAX ($opts)" ;;
		*) die "$MOUNTPOINT is mounted without dax ($opts): unmount it first" ;;
		esac
	else
		step "mount $DEVICE at $MOUNTPOINT with DAX"
		run mkdir -p "$MOUNTPOINT"
		run mount -o dax "$DEVICE" "$MOUNTPOINT"
		if [ "$DRY_RUN" -eq 0 ]; then
			opts="$(findmnt -rn -o OPTIONS --mountpoint "$MOUNTPOINT" || true)"
			case ",$opts," in
			*,dax,* | *,dax=always,*) ;;
			*) die "the kernel mounted $DEVICE without DAX ($opts); see dmesg (a namespace not in fsdax mode cannot do DAX)" ;;
			esac
		fi
	fi

	# 4. The directory action containers get.
	marvel_dir "$MOUNTPOINT/$SUBDIR"

	step "done"
	note "to mount at boot, add to /etc/fstab:  $DEVICE $MOUNTPOINT $fs dax,nofail 0 0"
	note "action containers: extra-args volume $MOUNTPOINT/$SUBDIR:/mnt/pmem/marvel (deploy/openwhisk/invoker-pmem.conf)"
	note "check from the host: marvel pmem ls $MOUNTPOINT/$SUBDIR"
}

prepare_devdax() {
	need_root
	need_cmd ndctl ndctl
	namespace devdax --align "$ALIGN"
	step "done"
	note "the new device is the \"chardev\" in ndctl's output (e.g. dax0.0 -> /dev/dax0.0); list them with: daxctl list"
	note "action containers: extra-args device /dev/daxX.Y and MARVEL_DATA=/dev/daxX.Y (deploy/openwhisk/invoker-pmem.conf)"
	note "one device holds one region and no files: one action, one container at a time"
	note "marvel runtime does not take a device as MARVEL_DATA yet; fsdax is the supported way (docs/openwhisk.md)"
}

prepare_emulate() {
	[ -n "$DIR" ] || usage_error "--emulate needs a directory"
	step "no persistent memory: emulated mode, regions are ordinary files in $DIR"
	marvel_dir "$DIR"
	step "done"
	note "durability: msync on a disk filesystem survives power loss; on tmpfs only process crashes"
}

if [ "$DRY_RUN" -eq 1 ]; then
	step "dry run: nothing is changed"
fi
case "$MODE" in
fsdax) prepare_fsdax ;;
devdax) prepare_devdax ;;
emulate) prepare_emulate ;;
esac
