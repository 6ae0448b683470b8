#!/usr/bin/env bash
# Grows the committed fuzz corpora. For each target of scripts/fuzz-targets
# (or only those named), it fuzzes for FUZZTIME (default 60s) and copies the
# inputs the fuzzer kept because they reached new code (they live in the Go
# build cache) into PACKAGE/testdata/fuzz/FUNCTION, where `go test` runs
# them as ordinary tests from then on. At most MAX (default 48) inputs are
# kept per target, chosen evenly across sizes; files already there stay.
#
#   bash scripts/fuzz-corpus.sh                         # every target
#   FUZZTIME=5m bash scripts/fuzz-corpus.sh FuzzReadOp  # one, longer
#
# Review what it adds before committing it: a corpus file is a test input.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${FUZZTIME:-60s}"
max="${MAX:-48}"
cache="$(go env GOCACHE)/fuzz"

log() { printf '==> %s\n' "$*" >&2; }

wanted() {
	local fn="$1" w
	if [ "${#names[@]}" -eq 0 ]; then
		return 0
	fi
	for w in "${names[@]}"; do
		[ "$w" = "$fn" ] && return 0
	done
	return 1
}

names=("$@")
found=0
while read -r pkg fn; do
	case "$pkg" in '' | '#'*) continue ;; esac
	wanted "$fn" || continue
	found=1
	dir="$pkg/testdata/fuzz/$fn"
	src="$cache/$(go list "$pkg")/$fn"
	log "fuzz $pkg $fn for $fuzztime"
	if ! go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg" >/dev/null 2>&1; then
		log "$fn failed: a failing input is under $dir; run go test -run $fn $pkg and fix it first"
		exit 1
	fi
	if [ ! -d "$src" ]; then
		log "$fn: the fuzzer kept no inputs (nothing under $src)"
		continue
	fi
	mkdir -p "$dir"
	# Evenly across the sizes: every k-th of the inputs sorted by size.
	mapfile -t inputs < <(find "$src" -type f -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
	n="${#inputs[@]}"
	step=$(((n + max - 1) / max))
	added=()
	for ((i = 0; i < n; i += step)); do
		f="${inputs[$i]}"
		if [ ! -e "$dir/$(basename "$f")" ]; then
			cp "$f" "$dir/"
			added+=("$dir/$(basename "$f")")
		fi
	done
	# The cache keeps inputs of a target's earlier signatures too; an input
	# that no longer fits fails the target as a test. Keep only what runs.
	if go test -count=1 -run "^${fn}\$" "$pkg" >/dev/null 2>&1; then
		added_ok=1
	else
		added_ok=0
	fi
	for f in "${added[@]}"; do
		if [ "$added_ok" -eq 0 ] && ! go test -count=1 -run "^${fn}\$/^$(basename "$f")\$" "$pkg" >/dev/null 2>&1; then
			log "$fn: $(basename "$f") from the cache does not run as a test (an older signature?); not kept"
			rm "$f"
		fi
	done
	log "$fn: $n inputs in the cache, ${#added[@]} copied, $(find "$dir" -type f | wc -l) in $dir"
done <scripts/fuzz-targets
if [ "$found" -eq 0 ]; then
	log "no target named ${names[*]} in scripts/fuzz-targets"
	exit 1
fi
