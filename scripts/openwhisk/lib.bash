# shellcheck shell=bash
# Shared by the scripts in scripts/openwhisk (sourced, not run): how they
# announce steps and show, then run, the commands they would type.
# The sourcing script sets DRY_RUN (0 or 1).

# step announces a step.
step() {
	printf '==> %s\n' "$*"
}

# note prints a remark that is not a command.
note() {
	printf '    %s\n' "$*"
}

# show prints a command as it would be typed, quoting only where needed.
show() {
	local out="" a
	for a in "$@"; do
		if [[ "$a" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
			out+=" $a"
		else
			out+=" $(printf '%q' "$a")"
		fi
	done
	printf '+%s\n' "$out"
}

# run shows a command and runs it, unless this is a dry run.
run() {
	show "$@"
	if [ "$DRY_RUN" -eq 0 ]; then
		"$@"
	fi
}
