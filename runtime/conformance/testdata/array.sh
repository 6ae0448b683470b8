#!/bin/bash
# Answers an array value with that array, anything else with ["a","b"].
echo '{"ok":true}' >&3
re='"value":(\[[^]]*\])'
while read -r line; do
  if [[ $line =~ $re ]]; then
    echo "${BASH_REMATCH[1]}" >&3
  else
    echo '["a","b"]' >&3
  fi
done
