#!/bin/bash
# Exits in the middle of an activation when the value says "crash":true,
# sleeps 30 s when it says "sleep":true; otherwise answers with its pid.
echo '{"ok":true}' >&3
while read -r line; do
  if [[ $line == *'"crash":true'* ]]; then
    echo "misbehave.sh: exiting in the middle of an activation" >&2
    exit 9
  fi
  if [[ $line == *'"sleep":true'* ]]; then
    echo "misbehave.sh: sleeping" >&2
    sleep 30
  fi
  echo "{\"alive\":true,\"pid\":$$}" >&3
done
