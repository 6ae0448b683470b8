#!/bin/bash
# Answers {} where the runtime waits for the acknowledgement {"ok":true}.
echo '{}' >&3
while read -r line; do
  echo '{}' >&3
done
