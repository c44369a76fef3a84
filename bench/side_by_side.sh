#!/usr/bin/env bash
# Runs the numpy peer and betacrit on the same config, one after the other on the same
# machine, and prints both wall times and their ratio (docs/performance.md).
#
#   bench/side_by_side.sh [CONFIG.json] [--threads N] [--repeat R] [--build DIR]
#
# CONFIG defaults to ../shared/baseline/bench.json beside the repository (the peer
# numpy_sweep.py is taken from the same folder). betacrit runs as `betacrit run` when that
# command works in DIR (default build/bench, then build/release); otherwise the sweep is
# measured with bench's betacrit_sweep_bench, which does the same per-row work (measure_row,
# the three row estimators, all six observables at every β) without writing HDF5. With
# --repeat R the two alternate R times and the median of the ratios is reported.
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are unset for the peer's command only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
config="$root/../shared/baseline/bench.json"
threads=2
repeat=1
build=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "side_by_side.sh: unknown option $1" >&2; exit 2 ;;
    *) config="$1"; shift ;;
  esac
done
[[ -f "$config" ]] || { echo "side_by_side.sh: config not found: $config" >&2; exit 2; }
peer="$(dirname "$config")/numpy_sweep.py"
[[ -f "$peer" ]] || peer="$root/../shared/baseline/numpy_sweep.py"
[[ -f "$peer" ]] || { echo "side_by_side.sh: numpy_sweep.py not found beside $config" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Which betacrit: the real `run` if it works, else the stand-in.
mode=""
for dir in ${build:+"$build"} "$root/build/bench" "$root/build/release"; do
  [[ -z "$mode" && -x "$dir/betacrit" ]] || continue
  if "$dir/betacrit" run "$config" -o "$tmp/probe.h5" --threads "$threads" --quiet --force >/dev/null 2>&1; then
    mode="run"; bin="$dir/betacrit"
  fi
done
if [[ -z "$mode" ]]; then
  for dir in ${build:+"$build"} "$root/build/bench"; do
    if [[ -z "$mode" && -x "$dir/bench/betacrit_sweep_bench" ]]; then mode="sweep"; bin="$dir/bench/betacrit_sweep_bench"; fi
  done
fi
[[ -n "$mode" ]] || { echo "side_by_side.sh: build first: cmake --preset bench && cmake --build --preset bench" >&2; exit 2; }

# Each run prints "wall cpu" (seconds; cpu = user + system of the process and its threads).
timed() {
  /usr/bin/time -f '%e %U %S' -o "$tmp/time.txt" "$@" >/dev/null
  awk '{print $1, $2 + $3}' "$tmp/time.txt"
}
run_peer() {
  timed env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$peer" "$config" --out "$tmp/peer.npz" --quiet
}
run_ours() {
  if [[ "$mode" == run ]]; then
    timed "$bin" run "$config" -o "$tmp/ours.h5" --threads "$threads" --quiet --force
  else
    timed "$bin" "$config" --threads "$threads"
  fi
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "config:  $config"
echo "betacrit: $bin ($([[ $mode == run ]] && echo "betacrit run" || echo "stand-in sweep, no HDF5"), $threads threads)"
ratios=()
for ((i = 1; i <= repeat; i++)); do
  read -r tp cp < <(run_peer)
  read -r tb cb < <(run_ours)
  r=$(awk -v a="$tp" -v b="$tb" 'BEGIN {print a / b}')
  ratios+=("$r")
  printf 'run %d: numpy peer %.3f s (cpu %.2f s)   betacrit %.3f s (cpu %.2f s)   wall ratio %.1fx   cpu ratio %.1fx\n' \
    "$i" "$tp" "$cp" "$tb" "$cb" "$r" "$(awk -v a="$cp" -v b="$cb" 'BEGIN {print a / b}')"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
printf 'wall ratio (median of %d): %.1fx\n' "$repeat" "$median"
