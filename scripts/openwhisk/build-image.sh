#!/usr/bin/env bash
# Builds the Marvel OpenWhisk images from the repository root:
#   1. the runtime image of the managed kind marvel:1
#      (deploy/openwhisk/Dockerfile -> PREFIX/action-marvel-v1:TAG), and
#   2. an example blackbox image with one action baked in
#      (deploy/openwhisk/Dockerfile.blackbox -> PREFIX/marvel-ACTION:TAG).
# See docs/openwhisk.md.
#
#   build-image.sh                         # marvel/action-marvel-v1:latest, marvel/marvel-counter:latest
#   build-image.sh --tag 1.0.0 --push      # also docker push both
#   build-image.sh --dry-run               # print the commands only
#   build-image.sh -- --no-cache           # extra arguments for docker build
#
# Environment: DOCKER (default docker) is the client to run, e.g. podman.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: build-image.sh [options] [-- DOCKER_BUILD_ARGS...]

Options:
  --prefix PREFIX     image prefix (Docker Hub user or registry/path; default marvel)
  --tag TAG           tag of both images (default latest)
  --name NAME         runtime image name (default action-marvel-v1)
  --action NAME       action under actions/ baked into the blackbox image (default counter)
  --blackbox-name N   blackbox image name (default marvel-ACTION)
  --go-image IMAGE    Go base image (default: the Dockerfile's, golang:1.26-bookworm)
  --no-blackbox       build the runtime image only
  --push              docker push the images after building them
  --dry-run           print the commands, run nothing
  -h, --help          this help

The runtime image reference must match image.prefix/name/tag of the marvel
entry in the runtimes manifest (deploy/openwhisk/runtimes.json).
EOF
}

usage_error() {
	printf 'build-image.sh: %s\n\n' "$*" >&2
	usage >&2
	exit 2
}

PREFIX=marvel
TAG=latest
NAME=action-marvel-v1
ACTION=counter
BLACKBOX_NAME=""
GO_IMAGE=""
BLACKBOX=1
PUSH=0
DRY_RUN=0
EXTRA=()

need_value() {
	if [ "$2" -lt 2 ]; then
		usage_error "$1 needs a value"
	fi
}

while [ "$#" -gt 0 ]; do
	case "$1" in
	--prefix) need_value "$1" "$#"; PREFIX="$2"; shift 2 ;;
	--tag) need_value "$1" "$#"; TAG="$2"; shift 2 ;;
	--name) need_value "$1" "$#"; NAME="$2"; shift 2 ;;
	--action) need_value "$1" "$#"; ACTION="$2"; shift 2 ;;
	--blackbox-name) need_value "$1" "$#"; BLACKBOX_NAME="$2"; shift 2 ;;
	--go-image) need_value "$1" "$#"; GO_IMAGE="$2"; shift 2 ;;
	--no-blackbox) BLACKBOX=0; shift ;;
	--push) PUSH=1; shift ;;
	--dry-run) DRY_RUN=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; EXTRA=("$@"); break ;;
	*) usage_error "unknown argument: $1" ;;
	esac
done

[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "invalid tag: $TAG"
[[ "$ACTION" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || usage_error "invalid action name: $ACTION"
if [ -z "$BLACKBOX_NAME" ]; then
	BLACKBOX_NAME="marvel-$ACTION"
fi
DOCKER="${DOCKER:-docker}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNTIME_IMAGE="$PREFIX/$NAME:$TAG"
BLACKBOX_IMAGE="$PREFIX/$BLACKBOX_NAME:$TAG"

# shellcheck source=scripts/openwhisk/lib.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

if [ "$DRY_RUN" -eq 1 ]; then
	step "dry run: nothing is built"
elif ! command -v "$DOCKER" >/dev/null 2>&1; then
	printf 'build-image.sh: %s not found (set DOCKER to the container client to use)\n' "$DOCKER" >&2
	exit 1
fi
if [ "$BLACKBOX" -eq 1 ] && [ ! -d "$ROOT/actions/$ACTION" ]; then
	if [ "$DRY_RUN" -eq 0 ]; then
		printf 'build-image.sh: no action directory actions/%s in %s\n' "$ACTION" "$ROOT" >&2
		exit 1
	fi
	printf 'build-image.sh: warning: no action directory actions/%s: the blackbox build would fail\n' "$ACTION" >&2
fi

REVISION="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"

step "build context: the repository root"
show cd "$ROOT"
cd "$ROOT"

step "runtime image $RUNTIME_IMAGE (managed kind marvel:1)"
args=("$DOCKER" build -f deploy/openwhisk/Dockerfile -t "$RUNTIME_IMAGE" --build-arg "REVISION=$REVISION")
if [ -n "$GO_IMAGE" ]; then
	args+=(--build-arg "GO_IMAGE=$GO_IMAGE")
fi
run "${args[@]}" "${EXTRA[@]}" .

if [ "$BLACKBOX" -eq 1 ]; then
	step "blackbox image $BLACKBOX_IMAGE (actions/$ACTION baked in)"
	run "$DOCKER" build -f deploy/openwhisk/Dockerfile.blackbox -t "$BLACKBOX_IMAGE" \
		--build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" --build-arg "ACTION=$ACTION" "${EXTRA[@]}" .
fi

if [ "$PUSH" -eq 1 ]; then
	step "push"
	run "$DOCKER" push "$RUNTIME_IMAGE"
	if [ "$BLACKBOX" -eq 1 ]; then
		run "$DOCKER" push "$BLACKBOX_IMAGE"
	fi
fi

step "done"
printf '    runtime image:  %s  (runtimes.json: prefix %s, name %s, tag %s)\n' "$RUNTIME_IMAGE" "$PREFIX" "$NAME" "$TAG"
if [ "$BLACKBOX" -eq 1 ]; then
	printf '    blackbox image: %s  (wsk action create NAME --docker %s)\n' "$BLACKBOX_IMAGE" "$BLACKBOX_IMAGE"
fi
