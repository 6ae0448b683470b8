#!/usr/bin/env bash
# Deploys an action to Apache OpenWhisk with the Marvel runtime, through wsk:
#
#   deploy-action.sh counter actions/counter/main.go          # Go source, compiled at /init
#   deploy-action.sh counter counter.zip                      # zip: top-level exec, or Go sources
#   deploy-action.sh --docker marvel/marvel-counter counter   # blackbox, function baked in
#   deploy-action.sh --dry-run counter main.go                # print the wsk command only
#
# Source and zip actions get --kind marvel:1 (the kind registered by
# deploy/openwhisk/runtimes.json); blackbox actions get --docker IMAGE. The
# default is `wsk action update`, which creates the action or replaces it.
# See docs/openwhisk.md.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage:
  deploy-action.sh [options] NAME FILE.go
  deploy-action.sh [options] NAME FILE.zip
  deploy-action.sh [options] --docker IMAGE NAME [FILE]

  FILE.go   a Go source action (package main), compiled by the runtime at /init
  FILE.zip  a zip with a top-level executable `exec` (precompiled, starts in
            milliseconds), or Go sources to compile at /init
  --docker  a blackbox action: IMAGE runs the Marvel runtime with a function
            baked in (no FILE), or FILE is sent to it as the action's code

Options:
  --create          wsk action create (fails if the action exists);
                    default: wsk action update (creates or replaces)
  --kind KIND       kind of a source or zip action (default marvel:1)
  --main NAME       entry function (wsk --main; default main)
  --memory MB       memory limit in MB (256 matches the stem cells of runtimes.json)
  --timeout MS      time limit in milliseconds (also bounds the /init compile)
  --param KEY VALUE default parameter (repeatable)
  --insecure        wsk -i: accept a self-signed API host certificate
  --dry-run         print the wsk command, run nothing
  -h, --help        this help
  -- ARGS...        more arguments for wsk

Environment:
  WSK            the wsk binary (default wsk)
  WHISK_APIHOST  API host (passed as --apihost); unset: wsk's own configuration
  WHISK_AUTH     uuid:key (passed as --auth); printed as "$WHISK_AUTH", never in clear
EOF
}

usage_error() {
	printf 'deploy-action.sh: %s\n\n' "$*" >&2
	usage >&2
	exit 2
}

die() {
	printf 'deploy-action.sh: %s\n' "$*" >&2
	exit 1
}

VERB=update
KIND=marvel:1
IMAGE=""
MAIN=""
MEMORY=""
TIMEOUT=""
INSECURE=0
DRY_RUN=0
PARAMS=()
EXTRA=()
POS=()

need_value() {
	# need_value FLAG COUNT ARGC
	if [ "$3" -le "$2" ]; then
		usage_error "$1 needs $2 value(s)"
	fi
}

while [ "$#" -gt 0 ]; do
	case "$1" in
	--create) VERB=create; shift ;;
	--update) VERB=update; shift ;;
	--kind) need_value "$1" 1 "$#"; KIND="$2"; shift 2 ;;
	--docker) need_value "$1" 1 "$#"; IMAGE="$2"; shift 2 ;;
	--main) need_value "$1" 1 "$#"; MAIN="$2"; shift 2 ;;
	--memory) need_value "$1" 1 "$#"; MEMORY="$2"; shift 2 ;;
	--timeout) need_value "$1" 1 "$#"; TIMEOUT="$2"; shift 2 ;;
	--param) need_value "$1" 2 "$#"; PARAMS+=(--param "$2" "$3"); shift 3 ;;
	--insecure) INSECURE=1; shift ;;
	--dry-run) DRY_RUN=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; EXTRA=("$@"); break ;;
	-*) usage_error "unknown option: $1" ;;
	*) POS+=("$1"); shift ;;
	esac
done

[ "${#POS[@]}" -ge 1 ] || usage_error "missing the action NAME"
NAME="${POS[0]}"
FILE="${POS[1]:-}"
[ "${#POS[@]}" -le 2 ] || usage_error "too many arguments: ${POS[*]}"
[[ "$NAME" =~ ^[^[:space:]]+$ ]] || usage_error "invalid action name: $NAME"
[ -z "$MEMORY" ] || [[ "$MEMORY" =~ ^[0-9]+$ ]] || usage_error "--memory must be a number of MB, not $MEMORY"
[ -z "$TIMEOUT" ] || [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || usage_error "--timeout must be a number of milliseconds, not $TIMEOUT"

if [ -n "$FILE" ] && [ ! -f "$FILE" ]; then
	die "no such file: $FILE"
fi

WSK="${WSK:-wsk}"
cmd=("$WSK" action "$VERB" "$NAME")
if [ -n "$FILE" ]; then
	cmd+=("$FILE")
fi

if [ -n "$IMAGE" ]; then
	# Blackbox: the image decides; wsk sends FILE (if any) as the code.
	cmd+=(--docker "$IMAGE")
else
	[ -n "$FILE" ] || usage_error "a source or zip action needs a FILE (or use --docker IMAGE)"
	case "$FILE" in
	*.go)
		if ! grep -q '^package main' "$FILE"; then
			# shellcheck disable=SC2016 # the backquotes are text
			printf 'deploy-action.sh: warning: %s does not say `package main`\n' "$FILE" >&2
		fi
		;;
	*.zip) ;;
	*) usage_error "FILE must be a Go source file (.go) or a zip (.zip), not $FILE" ;;
	esac
	cmd+=(--kind "$KIND")
fi
if [ -n "$MAIN" ]; then
	cmd+=(--main "$MAIN")
fi
if [ -n "$MEMORY" ]; then
	cmd+=(--memory "$MEMORY")
fi
if [ -n "$TIMEOUT" ]; then
	cmd+=(--timeout "$TIMEOUT")
fi
cmd+=("${PARAMS[@]}")
if [ -n "${WHISK_APIHOST:-}" ]; then
	cmd+=(--apihost "$WHISK_APIHOST")
fi
if [ -n "${WHISK_AUTH:-}" ]; then
	cmd+=(--auth "$WHISK_AUTH")
fi
if [ "$INSECURE" -eq 1 ]; then
	cmd+=(-i)
fi
cmd+=("${EXTRA[@]}")

# show prints the command, quoting only where needed, with the value of
# --auth replaced by a reference to the variable.
show() {
	local out="" a prev=""
	for a in "$@"; do
		if [ "$prev" = --auth ]; then
			# shellcheck disable=SC2016 # a reference, printed as is
			out+=' "$WHISK_AUTH"'
		elif [[ "$a" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
			out+=" $a"
		else
			out+=" $(printf '%q' "$a")"
		fi
		prev="$a"
	done
	printf '+%s\n' "$out"
}

if [ "$DRY_RUN" -eq 1 ]; then
	printf '==> dry run: the command, not run\n'
	show "${cmd[@]}"
	exit 0
fi

command -v "$WSK" >/dev/null 2>&1 || die "$WSK not found (install the OpenWhisk CLI or set WSK)"
printf '==> %s action %s\n' "$VERB" "$NAME"
show "${cmd[@]}"
"${cmd[@]}"
