#!/usr/bin/env bash
# Usage: test_resume.sh BETACRIT_BINARY SOURCE_DIR
# A run killed with SIGKILL at any instant leaves a file that `--resume` accepts, and the
# resumed file equals an uninterrupted run's in every dataset and attribute (only the
# root attribute created_utc may differ). Kills land before the first checkpoint, between
# checkpoints, twice in a row, and in the middle of a checkpoint write.
set -u
bin="$1"
src="$2"
py=/usr/bin/python3
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail=0
note() { echo "$*"; }
bad() {
  echo "FAIL $*"
  fail=1
}

# Several seconds of work in many units (n = 400000: 6 rows per unit), long enough that a
# resumed run killed after 0.5 s is still unfinished on a fast machine; store_rows makes
# the checkpoints large enough that a kill can land inside a write.
cat >"$tmp/resume.json" <<'EOF'
// resume test: three models, many work units, per-row observables stored
{"seed": 7, "rows": 120, "n": [100, 3000, 100000, 400000],
 "beta": {"min": 0.05, "max": 20, "count": 40},
 "store_rows": true,
 "models": [{"type": "gaussian"}, {"type": "gumbel", "scale": 0.5},
            {"type": "sparse_gap", "noise": 0.2, "signals": 2}]}
EOF
config="$tmp/resume.json"

start_ms=$(($(date +%s%N) / 1000000))
if ! "$bin" run "$config" -o "$tmp/ref.h5" --threads 1 --quiet >/dev/null 2>"$tmp/ref.err"; then
  bad "uninterrupted run failed: $(cat "$tmp/ref.err")"
  exit 1
fi
note "uninterrupted run (1 thread; the killed runs use 2): $(($(date +%s%N) / 1000000 - start_ms)) ms"

is_incomplete() {  # FILE: exit 0 when the file says complete = false and has /progress
  "$py" - "$1" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    ok = (not bool(f.attrs["complete"])) and "progress" in f and "models" not in f
sys.exit(0 if ok else 1)
EOF
}

# Starts a run in the background, kills it with SIGKILL after DELAY seconds.
# Usage: run_and_kill OUT DELAY CHECKPOINT_SECONDS [--resume]
run_and_kill() {
  local out="$1" delay="$2" every="$3"
  shift 3
  BETACRIT_CHECKPOINT_SECONDS="$every" "$bin" run "$config" -o "$out" --threads 2 --quiet "$@" >/dev/null 2>&1 &
  local pid=$!
  pids+=("$pid")
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# Resumes OUT to completion and compares it with the reference.
resume_and_compare() {
  local out="$1" label="$2"
  if ! "$bin" run "$config" -o "$out" --threads 2 --resume --quiet >/dev/null 2>"$tmp/resume.err"; then
    bad "$label: --resume failed: $(cat "$tmp/resume.err")"
    return
  fi
  if ls "$out".tmp-* >/dev/null 2>&1; then
    bad "$label: temporary files left after the resumed run: $(ls "$out".tmp-*)"
  fi
  if ! "$py" "$src/tests/cli/h5compare.py" "$tmp/ref.h5" "$out"; then
    bad "$label: resumed file differs from the uninterrupted run"
  fi
}

units_done() {  # FILE: units recorded in /progress (0 when none)
  "$py" - "$1" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    print(int(f["progress"].attrs["units_done"]) if "progress" in f else -1)
EOF
}

# 1. Kills at several instants, with frequent (0.3 s) and default (5 s) checkpoints.
resumed_some=0
for spec in "0.3 0.3" "1 0.3" "2 0.3" "1.5 5"; do
  set -- $spec
  delay="$1"
  every="$2"
  out="$tmp/killed-$delay-$every.h5"
  run_and_kill "$out" "$delay" "$every"
  if [ ! -e "$out" ]; then
    note "kill at ${delay}s: no output yet (killed before the first snapshot); --resume must simply start"
  elif is_incomplete "$out"; then
    done_units=$(units_done "$out")
    note "kill at ${delay}s (checkpoint every ${every}s): incomplete file with $done_units finished units"
    [ "$done_units" -gt 0 ] && resumed_some=1
  else
    bad "kill at ${delay}s: the killed file is not marked incomplete (run too short for this test?)"
  fi
  resume_and_compare "$out" "kill at ${delay}s"
done
[ "$resumed_some" -eq 1 ] || bad "no kill left finished units to resume from"

# 2. Killed twice: the second run is itself a resumed one.
out="$tmp/twice.h5"
run_and_kill "$out" 1 0.3
run_and_kill "$out" 0.5 0.3 --resume
if [ -e "$out" ] && ! is_incomplete "$out"; then bad "twice-killed file is not marked incomplete"; fi
resume_and_compare "$out" "killed twice"

# 3. Kill inside a checkpoint write: checkpoints back to back, so a kill often lands
#    while OUT.tmp-PID is being written. The stale temporary must not matter.
#    A write is in progress 40-50% of the time, so a few attempts suffice; 15 attempts
#    all miss with probability below 1e-3.
caught=0
for attempt in $(seq 1 15); do
  out="$tmp/midwrite-$attempt.h5"
  run_and_kill "$out" "$(awk -v k="$attempt" 'BEGIN { printf "%.2f", 0.8 + 0.09 * k }')" 0.001
  if ls "$out".tmp-* >/dev/null 2>&1; then
    caught=1
    note "kill during a checkpoint write (attempt $attempt): stale $(basename "$(ls "$out".tmp-*)")"
    is_incomplete "$out" || bad "file killed mid-write is not a valid incomplete checkpoint"
    resume_and_compare "$out" "kill during a checkpoint write"
    break
  fi
done
[ "$caught" -eq 1 ] || bad "could not provoke a kill during a checkpoint write in 15 attempts"

[ "$fail" -eq 0 ] && echo "ok: killed runs resume to files identical to the uninterrupted run"
exit "$fail"
