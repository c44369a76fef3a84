#!/usr/bin/env bash
# Usage: test_bad_configs.sh BETACRIT_BINARY SOURCE_DIR
# For every malformed config in tests/data/bad_configs, `betacrit run FILE -o OUT.h5`
# must exit with status 2, print the text of the file's "// expect: TEXT" line on
# stderr, and create no output file (nor any other file next to it).
set -u
bin="$1"
src="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fail=0
count=0
for config in "$src"/tests/data/bad_configs/*.json; do
  count=$((count + 1))
  name="$(basename "$config")"
  expect="$(head -n 1 "$config" | sed -n 's|^// expect: ||p')"
  if [ -z "$expect" ]; then
    echo "FAIL $name: first line is not '// expect: TEXT'"
    fail=1
    continue
  fi
  rundir="$tmp/run"
  rm -rf "$rundir"
  mkdir "$rundir"
  timeout 60 "$bin" run "$config" -o "$rundir/out.h5" </dev/null >"$tmp/stdout" 2>"$tmp/stderr"
  status=$?
  if [ "$status" -ne 2 ]; then
    echo "FAIL $name: exit status $status, expected 2"
    fail=1
  fi
  if ! grep -qF -- "$expect" "$tmp/stderr"; then
    echo "FAIL $name: stderr does not contain: $expect"
    sed 's/^/    stderr: /' "$tmp/stderr"
    fail=1
  fi
  if [ -n "$(ls -A "$rundir")" ]; then
    echo "FAIL $name: files were created: $(ls -A "$rundir" | tr '\n' ' ')"
    fail=1
  fi
done

if [ "$count" -lt 30 ]; then
  echo "FAIL: only $count configs in tests/data/bad_configs (expected at least 30)"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "ok: $count malformed configs refused with exit status 2"
exit "$fail"
