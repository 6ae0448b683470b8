#!/bin/bash
# Answers what the value's "reply" asks for, valid as a result or not.
echo '{"ok":true}' >&3
while read -r line; do
  case $line in
  *'"reply":"null"'*) echo 'null' >&3 ;;
  *'"reply":"number"'*) echo '42' >&3 ;;
  *'"reply":"string"'*) echo '"str"' >&3 ;;
  *'"reply":"true"'*) echo 'true' >&3 ;;
  *'"reply":"invalid"'*) echo '{"unterminated":' >&3 ;;
  *'"reply":"empty"'*) echo '' >&3 ;;
  *'"reply":"error"'*) echo '{"error":"boom"}' >&3 ;;
  *) echo '{"reply":"default"}' >&3 ;;
  esac
done
