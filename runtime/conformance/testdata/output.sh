#!/bin/bash
# Prints one line on stdout and one on stderr per activation, then answers.
echo '{"ok":true}' >&3
n=0
while read -r line; do
  n=$((n + 1))
  echo "action stdout ❄ ☃ ❄ run $n"
  echo "action stderr ☃ run $n" >&2
  echo "{\"run\":$n}" >&3
done
