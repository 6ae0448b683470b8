#!/bin/bash
# An ActionLoop action in bash: acknowledge on fd 3, then answer each request
# line (the /run body) with one JSON line on fd 3.
echo '{"ok":true}' >&3
re='"name":"([^"]*)"'
while read -r line; do
  name=World
  if [[ $line =~ $re ]]; then name=${BASH_REMATCH[1]}; fi
  echo "{\"main\":\"Hello, $name\"}" >&3
done
