#!/usr/bin/env bash
# Regenerates the Go code of the HDFS bridge's protobuf messages.
#
#   bash scripts/gen-proto.sh           rewrite hdfsbridge/internal/hadooppb/*.pb.go
#   bash scripts/gen-proto.sh --check   regenerate into a temp dir and fail, with a
#                                       diff, if the tree's *.pb.go differ (CI)
#
# Sources: hdfsbridge/internal/proto/**/*.proto. Toolchain: protoc from the
# Debian package protobuf-compiler (installed with apt-get when missing) and
# protoc-gen-go built at the version of google.golang.org/protobuf that go.mod
# requires, so the generator always matches the runtime library.
set -euo pipefail

usage() {
	sed -n '2,6s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

check=false
case "${1-}" in
"") ;;
--check) check=true ;;
-h | --help)
	usage
	exit 0
	;;
*)
	echo "gen-proto: unknown argument: $1" >&2
	usage >&2
	exit 2
	;;
esac
if [ "$#" -gt 1 ]; then
	echo "gen-proto: too many arguments" >&2
	usage >&2
	exit 2
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

proto_dir=hdfsbridge/internal/proto
out_dir=hdfsbridge/internal/hadooppb
module="$(awk '$1 == "module" { print $2; exit }' go.mod)"
if [ -z "$module" ]; then
	echo "gen-proto: cannot read the module path from go.mod" >&2
	exit 1
fi

# Deterministic output: fixed locale for sorting, no environment-dependent paths
# in the generated code (protoc-gen-go records only the .proto paths relative
# to $proto_dir and the tool versions).
export LC_ALL=C

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- protoc ---------------------------------------------------------------
if ! command -v protoc >/dev/null 2>&1; then
	echo "gen-proto: protoc not found; installing protobuf-compiler with apt-get" >&2
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi

# --- protoc-gen-go, at the runtime's version ------------------------------
pb_version="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
if [ -z "$pb_version" ]; then
	echo "gen-proto: google.golang.org/protobuf is not required in go.mod" >&2
	exit 1
fi
GOBIN="$work/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${pb_version}"

echo "gen-proto: $(protoc --version) (protoc), $("$work/bin/protoc-gen-go" --version)"

# --- generate ---------------------------------------------------------------
mapfile -t protos < <(cd "$proto_dir" && find . -name '*.proto' -type f | sed 's|^\./||' | sort)
if [ "${#protos[@]}" -eq 0 ]; then
	echo "gen-proto: no .proto files under $proto_dir" >&2
	exit 1
fi

gen_root="$work/gen"
mkdir -p "$gen_root"
PATH="$work/bin:$PATH" protoc \
	--proto_path="$proto_dir" \
	--go_out="$gen_root" \
	--go_opt="module=$module" \
	"${protos[@]}"

# protoc-gen-go places each file by its go_package; every file must land in
# $out_dir.
generated="$gen_root/$out_dir"
if [ ! -d "$generated" ]; then
	echo "gen-proto: nothing was generated into $out_dir; check the go_package options" >&2
	exit 1
fi
stray="$(cd "$gen_root" && find . -type f -name '*.go' ! -path "./$out_dir/*" | sort)"
if [ -n "$stray" ]; then
	echo "gen-proto: files generated outside $out_dir (wrong go_package?):" >&2
	echo "$stray" >&2
	exit 1
fi

if "$check"; then
	# Compare only generated files: hand-written ones (doc.go, tests) live beside them.
	mkdir -p "$work/tree"
	if compgen -G "$out_dir/*.pb.go" >/dev/null; then
		cp "$out_dir"/*.pb.go "$work/tree/"
	fi
	if diff_out="$(cd "$work" && diff -ruN tree "gen/$out_dir")"; then
		echo "gen-proto: $out_dir is up to date (${#protos[@]} .proto files)"
		exit 0
	fi
	echo "gen-proto: $out_dir/*.pb.go are stale: run 'bash scripts/gen-proto.sh' and commit the result." >&2
	if ! grep -E '^[-+][^-+]' <<<"$diff_out" | grep -qvE '^[-+]//[[:space:]]+protoc(-gen-go)?[[:space:]]+v?[0-9(]'; then
		echo "gen-proto: only the recorded tool versions differ: this protoc or protoc-gen-go is not the one that generated the tree." >&2
	fi
	echo "$diff_out" >&2
	exit 1
fi

rm -f "$out_dir"/*.pb.go
cp "$generated"/*.pb.go "$out_dir/"
echo "gen-proto: wrote $(find "$out_dir" -maxdepth 1 -name '*.pb.go' | wc -l) files to $out_dir from ${#protos[@]} .proto files"
