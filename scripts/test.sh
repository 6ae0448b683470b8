#!/usr/bin/env bash
# Runs every test of the repository on a fresh Debian machine, as root:
# installs the system packages the tests need, then gofmt, go vet and
# go test -race. Extra arguments go to `go test`:
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh -run 'CLI'      # only tests matching CLI
#   MARVEL_LONG=1 bash scripts/test.sh   # also the long suites
#
# Environment: MARVEL_LONG=1 runs the long suites (see docs/cli.md);
# GO_TEST_TIMEOUT overrides the go test timeout (default 15m);
# MARVEL_REQUIRE_SERVERS=0 skips the tests that need redis-server or MinIO;
# MARVEL_DAX=0 skips the emulated-NVDIMM guest (and installing qemu).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# System packages the tests need. go test -race needs cgo, so a C compiler
# and the C library headers (a Debian image with Go from the tarball has
# neither; without them the race build fails with `C compiler "gcc" not
# found`). Later suites add theirs here: protobuf-compiler for the
# generated-code check, redis-server for the shuffle store's Redis baseline,
# qemu and the guest's tools for the emulated-NVDIMM run (unless
# MARVEL_DAX=0; scripts/dax-guest.sh fetches the guest's kernel itself).
APT_PACKAGES=(gcc libc6-dev protobuf-compiler redis-server)
if [ "${MARVEL_DAX:-1}" != 0 ]; then
	APT_PACKAGES+=(qemu-system-x86 busybox-static cpio ndctl e2fsprogs kmod)
fi

log() { printf '==> %s\n' "$*" >&2; }

# apt_install installs the packages that are not installed yet, running
# apt-get update once, and does nothing when none are missing.
apt_install() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg -s "$p" >/dev/null 2>&1; then
			missing+=("$p")
		fi
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		return 0
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		log "missing packages: ${missing[*]}; install them (apt-get is not available here)"
		return 1
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		sudo=(sudo)
	fi
	log "installing ${missing[*]}"
	if [ -z "${APT_UPDATED:-}" ]; then
		"${sudo[@]}" apt-get update
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then
	apt_install "${APT_PACKAGES[@]}"
fi

if ! command -v go >/dev/null 2>&1; then
	log "go is not installed or not on PATH."
	log "Install Go $(sed -n 's/^go //p' go.mod) or later from https://go.dev/dl/ and add its bin directory to PATH."
	exit 1
fi
log "$(go version)"

if [ "${MARVEL_LONG:-}" = "1" ]; then
	export MARVEL_LONG
	log "MARVEL_LONG=1: running the long suites too"
fi

# The shuffle tests' Redis and S3 servers must run here, not be skipped:
# redis-server is installed above, and MinIO is built from the Go module
# proxy on first use (minutes, once; cached in ~/.cache/marvel/minio, or in
# the directory MARVEL_MINIO names). MARVEL_REQUIRE_SERVERS=0 skips them.
export MARVEL_REQUIRE_SERVERS="${MARVEL_REQUIRE_SERVERS:-1}"
# Build MinIO here, before the tests, rather than inside the first test
# that needs it (where the go test timeout would count the build).
if [ "$MARVEL_REQUIRE_SERVERS" = "1" ]; then
	minio_dir="${MARVEL_MINIO:-${XDG_CACHE_HOME:-$HOME/.cache}/marvel/minio}"
	if ! command -v minio >/dev/null 2>&1 && [ ! -x "$minio_dir/minio" ]; then
		minio_version="$(sed -n 's/^[[:space:]]*MinIOVersion[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' mapreduce/shuffle/servers/minio_build.go)"
		log "building MinIO $minio_version for the S3 shuffle store into $minio_dir (once per machine; several minutes)"
		minio_tmp="$(mktemp -d)"
		GOBIN="$minio_tmp" GOFLAGS=-mod=mod go install "github.com/minio/minio@$minio_version"
		mkdir -p "$minio_dir"
		mv "$minio_tmp/minio" "$minio_dir/minio"
		rm -rf "$minio_tmp"
	fi
fi

log "gofmt -l"
unformatted="$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path '*/vendor/*' -print0 |
	xargs -0 -r gofmt -l)"
if [ -n "$unformatted" ]; then
	log "these files are not gofmt-formatted (run gofmt -w on them):"
	printf '%s\n' "$unformatted" >&2
	exit 1
fi

log "go vet ./..."
go vet ./...

# The generated protobuf code must be what the committed .proto files give.
log "scripts/gen-proto.sh --check"
bash scripts/gen-proto.sh --check

timeout="${GO_TEST_TIMEOUT:-15m}"
shown=""
if [ "$#" -gt 0 ]; then
	printf -v shown ' %q' "$@"
fi
log "go test -race -count=1 -timeout $timeout ./...$shown"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
# The DAX guest runs on its own below, not beside every other test.
MARVEL_DAX=0 go test -race -count=1 -timeout "$timeout" ./... "$@" 2>&1 | tee "$out"
status="${PIPESTATUS[0]}"
set -e
# Smoke run of the benchmark harness (issue 6): every workload on every
# shuffle store at about 100 MiB of input, once, with the real redis-server
# and MinIO it starts itself (pmem and disk only with
# MARVEL_REQUIRE_SERVERS=0). Nothing about speed is asserted; a job that
# fails or outputs that differ across stores fail the script. Its table is
# printed. About 15 s on 2 idle cores, 40 s on busy ones. Skipped when
# extra arguments select particular tests.
if [ "$status" -eq 0 ] && [ "$#" -eq 0 ]; then
	benchdir="$(mktemp -d)"
	bench=(go run ./cmd/marvel bench --quick --out "$benchdir")
	if [ "$MARVEL_REQUIRE_SERVERS" != "1" ]; then
		bench+=(--stores pmem,disk)
	fi
	log "${bench[*]}"
	set +e
	"${bench[@]}"
	bstatus=$?
	set -e
	rm -rf "$benchdir"
	if [ "$bstatus" -ne 0 ]; then
		log "marvel bench --quick failed (exit status $bstatus); see its output above"
		status="$bstatus"
	fi
fi

# The emulated-NVDIMM guest (issue 8, docs/dax-guest.md): pmem's fsdax and
# devdax paths under qemu, on a Debian kernel extracted from its package.
# About 35 s warm on idle cores, two minutes on busy ones; the first run also
# installs qemu and fetches the kernel (about a minute more). MARVEL_DAX=0
# skips it. Skipped when extra arguments select particular tests.
if [ "$status" -eq 0 ] && [ "$#" -eq 0 ] && [ "${MARVEL_DAX:-1}" != 0 ]; then
	log "MARVEL_REQUIRE_DAX=1 go test -count=1 -v -run '^TestDAXGuest\$' ./scripts/daxguest"
	set +e
	MARVEL_REQUIRE_DAX=1 go test -count=1 -timeout 15m -v -run '^TestDAXGuest$' ./scripts/daxguest 2>&1 | tee -a "$out"
	dstatus="${PIPESTATUS[0]}"
	set -e
	if [ "$dstatus" -ne 0 ]; then
		log "the DAX guest failed (exit status $dstatus); its console is in the output above"
		status="$dstatus"
	fi
fi

# Bounded fuzzing of every decoder that reads outside bytes (the seed corpora
# under testdata/fuzz already ran above as ordinary tests). Each target gets
# MARVEL_FUZZTIME (default 5s; 2m with MARVEL_LONG=1). Skipped when extra
# arguments select particular tests. The targets are listed in
# scripts/fuzz-targets, which scripts/fuzz-corpus.sh reads too.
FUZZ_TARGETS=()
while read -r line; do
	case "$line" in '' | '#'*) continue ;; esac
	FUZZ_TARGETS+=("$line")
done <scripts/fuzz-targets
if [ "$status" -eq 0 ] && [ "$#" -eq 0 ]; then
	fuzztime="${MARVEL_FUZZTIME:-5s}"
	if [ "${MARVEL_LONG:-}" = "1" ] && [ -z "${MARVEL_FUZZTIME:-}" ]; then
		fuzztime=2m
	fi
	for target in "${FUZZ_TARGETS[@]}"; do
		read -r pkg fn <<<"$target"
		log "fuzz $pkg $fn for $fuzztime"
		fuzzlog="$(mktemp)"
		corpus="$pkg/testdata/fuzz/$fn"
		# A target may have no committed corpus yet: ls fails, and with
		# pipefail that must not end the script.
		before="$(ls "$corpus" 2>/dev/null | sort || true)"
		for attempt in 1 2; do
			set +e
			go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg" >"$fuzzlog" 2>&1
			fstatus=$?
			set -e
			if [ "$fstatus" -eq 0 ]; then
				tail -3 "$fuzzlog" | tee -a "$out"
				break
			fi
			# The whole output: the reason is often above the last lines.
			tee -a "$out" <"$fuzzlog"
			if [ "$(ls "$corpus" 2>/dev/null | sort || true)" != "$before" ]; then
				log "fuzzing $fn found a failing input: it is the new file under $corpus"
				status="$fstatus"
				break
			fi
			if [ "$attempt" -eq 2 ]; then
				log "fuzzing $fn failed twice without a failing input (exit status $fstatus); see the output above"
				status="$fstatus"
			else
				# No input was saved, so the engine itself failed (a worker
				# that did not start in time on a loaded machine, say), not
				# the code under test: say so, and run the target again.
				log "fuzzing $fn failed without saving a failing input (exit status $fstatus); running it once more"
			fi
		done
		rm -f "$fuzzlog"
	done
fi

ok="$(grep -c '^ok ' "$out" || true)"
failed="$(grep -c '^FAIL[[:space:]]' "$out" || true)"
if [ "$status" -eq 0 ]; then
	log "go test: PASS ($ok packages ok)"
else
	log "go test: FAIL ($failed packages failed, $ok ok; exit status $status)"
fi
exit "$status"
