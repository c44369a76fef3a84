#!/usr/bin/env bash
# Peak resident memory of one gaussian row of n = 2^27 with 64 β values (SPEC §9: memory
# per thread does not grow with n). Uses GNU time (/usr/bin/time -v; Debian package `time`, installed by scripts/install-deps).
#
#   bench/rss_2p27.sh [--build DIR] [--limit-mib M]
#
# Runs bench's betacrit_sweep_bench (measure_row, the three estimators, all six observables
# at 64 β) on one row of 2^27 scores in one thread and prints the peak RSS; exits 1 when it
# exceeds the limit (default 300 MiB).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build/bench"
limit=300
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --limit-mib) limit="$2"; shift 2 ;;
    *) echo "rss_2p27.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin="$build/bench/betacrit_sweep_bench"
[[ -x "$bin" ]] || { echo "rss_2p27.sh: build first: cmake --preset bench && cmake --build --preset bench" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/row.json" <<'EOF'
{"seed": 7, "rows": 1, "n": [134217728],
 "beta": {"min": 0.1, "max": 8, "count": 64, "spacing": "log"},
 "models": [{"type": "gaussian"}]}
EOF
/usr/bin/time -v "$bin" "$tmp/row.json" --threads 1 > "$tmp/out.txt" 2> "$tmp/time.txt"
cat "$tmp/out.txt"
kib=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time.txt")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time.txt")
mib=$(awk -v k="$kib" 'BEGIN {print k / 1024}')
printf 'n = 2^27, 64 beta: peak RSS %.1f MiB (limit %d MiB), wall %s\n' "$mib" "$limit" "$wall"
if (( kib > limit * 1024 )); then exit 1; fi
