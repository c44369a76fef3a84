#!/usr/bin/env bash
# scripts/figures: every expected figure is written (PNG and PDF, non-empty, valid
# headers), what a file lacks is skipped with a note instead of a crash, and bad input
# (missing file, not HDF5, no /models) exits with status 2 naming the file.
#
#   bash tests/cli/test_figures.sh BETACRIT_BINARY SOURCE_DIR
#
# Input: the synthetic SPEC §7 fixture of tests/data/figures/make_fixture.py (it covers
# tail mode, missing groups and an unscaled run, which a small real run does not).
set -uo pipefail
BIN=${1:?usage: test_figures.sh BETACRIT_BINARY SOURCE_DIR}
SRC=${2:?usage: test_figures.sh BETACRIT_BINARY SOURCE_DIR}
PY=/usr/bin/python3
FIG="$SRC/scripts/figures"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

failures=0
pass=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass=$((pass + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
nonempty_with_magic() {  # FILE: exists, non-empty, PNG/PDF signature matches the suffix
  local f=$1
  [[ -s "$f" ]] || { echo "  missing or empty: $f"; return 1; }
  case "$f" in
    *.png) [[ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] ;;
    *.pdf) [[ "$(head -c 5 "$f")" == "%PDF-" ]] ;;
  esac || { echo "  bad file signature: $f"; return 1; }
}
expect_exactly() {  # DIR STEM...: DIR holds STEM.png and STEM.pdf for each stem, nothing else
  local dir=$1; shift
  local ok=0 want=() stem
  for stem in "$@"; do
    for ext in png pdf; do
      want+=("$stem.$ext")
      nonempty_with_magic "$dir/$stem.$ext" || ok=1
    done
  done
  local got extra
  got=$(cd "$dir" && ls -A | sort)
  extra=$(comm -13 <(printf '%s\n' "${want[@]}" | sort) <(printf '%s\n' "$got"))
  [[ -z "$extra" ]] || { echo "  unexpected files in $dir: $extra"; ok=1; }
  return $ok
}
exit_status_is() {  # STATUS COMMAND...: the command exits with STATUS
  local want=$1; shift
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  [[ $rc -eq $want ]] || { echo "  exit $rc, expected $want: $*"; cat "$TMP/err"; return 1; }
}
mentions() {  # FILE TEXT: FILE contains TEXT
  grep -qF -- "$2" "$1" || { echo "  '$2' not in $1:"; sed 's/^/    /' "$1"; return 1; }
}

"$PY" "$SRC/tests/data/figures/make_fixture.py" "$TMP/data" || { echo "FAIL: fixture"; exit 1; }

# --- scaled run: three models, one of them in tail mode (log2_n up to 1000) -------------
check "figures on the scaled fixture exits 0" \
  exit_status_is 0 "$FIG" "$TMP/data/scaled.h5" -o "$TMP/scaled" --dpi 60
cp "$TMP/out" "$TMP/scaled.log"
check "scaled fixture: exactly the expected figures" expect_exactly "$TMP/scaled" \
  gaps-gaussian gaps-sparse-log2 \
  observables-gaussian observables-sparse-log2 observables-tail-gauss \
  collapse-gaussian collapse-sparse-log2 collapse-tail-gauss \
  beta-star-gaussian beta-star-sparse-log2 beta-star-tail-gauss \
  phase-gaussian phase-tail-gauss \
  collapse-overview laws-comparison
check "note: tail model without gaps" mentions "$TMP/scaled.log" "tail-gauss: no gaps/ group"
check "note: observable not stored" mentions "$TMP/scaled.log" "sparse-log2: observable(s) norm_entropy not stored"
check "note: no fit group" mentions "$TMP/scaled.log" "sparse-log2: no fit/ group"
check "note: no limit curve" mentions "$TMP/scaled.log" "tail-gauss: no theory/c + theory/norm_entropy"
check "note: phase diagram needs norm_entropy" mentions "$TMP/scaled.log" "sparse-log2: norm_entropy not stored; phase diagram skipped"

# --- unscaled run: no c grid and no theory, so no collapse and no phase diagram -------
check "figures on the unscaled fixture exits 0" \
  exit_status_is 0 "$FIG" "$TMP/data/unscaled.h5" -o "$TMP/unscaled" --dpi 60
cp "$TMP/out" "$TMP/unscaled.log"
check "unscaled fixture: collapse and phase skipped" expect_exactly "$TMP/unscaled" \
  gaps-gaussian observables-gaussian beta-star-gaussian laws-comparison
check "note: collapse needs beta*(n)" mentions "$TMP/unscaled.log" "collapse figure skipped"

# --- README size: 8 in wide, so --dpi 100 gives 800 px PNGs -----------------------------
check "gallery size PNG" exit_status_is 0 "$FIG" "$TMP/data/scaled.h5" -o "$TMP/small" \
  --formats png --dpi 100 --models gaussian --figures phase
png_width() { "$PY" -c 'import struct,sys; print(struct.unpack(">I", open(sys.argv[1],"rb").read()[16:20])[0])' "$1"; }
check "PNG at --dpi 100 is 800 px wide" [ "$(png_width "$TMP/small/phase-gaussian.png")" = 800 ]
only_file() { [[ "$(ls -A "$1")" == "$2" ]] || { echo "  $1 holds: $(ls -A "$1")"; return 1; }; }
check "--figures/--models select exactly one figure" only_file "$TMP/small" phase-gaussian.png

# --- bad input: exit 2 and a message naming the file ------------------------------------
check "missing file exits 2" exit_status_is 2 "$FIG" "$TMP/no-such.h5" -o "$TMP/bad1"
check "missing file named" mentions "$TMP/err" "$TMP/no-such.h5: no such file"
printf 'not hdf5\n' >"$TMP/text.h5"
check "non-HDF5 file exits 2" exit_status_is 2 "$FIG" "$TMP/text.h5" -o "$TMP/bad2"
check "non-HDF5 file named" mentions "$TMP/err" "$TMP/text.h5: not an HDF5 file"
"$PY" -c 'import h5py,sys; h5py.File(sys.argv[1], "w").create_group("other")' "$TMP/nomodels.h5"
check "HDF5 without /models exits 2" exit_status_is 2 "$FIG" "$TMP/nomodels.h5" -o "$TMP/bad3"
check "no /models named" mentions "$TMP/err" "$TMP/nomodels.h5: no /models group"
head -c 4096 "$TMP/data/scaled.h5" >"$TMP/truncated.h5"
check "truncated HDF5 exits 2" exit_status_is 2 "$FIG" "$TMP/truncated.h5" -o "$TMP/bad4"
check "truncated file named" mentions "$TMP/err" "$TMP/truncated.h5"
check "no traceback on bad input" bash -c "! grep -q Traceback '$TMP/err'"
check "unknown model label exits 2" exit_status_is 2 "$FIG" "$TMP/data/scaled.h5" -o "$TMP/bad5" --models nope
check "unknown label named" mentions "$TMP/err" "no model nope"
for d in bad1 bad2 bad3 bad4 bad5; do
  check "no figures written for bad input ($d)" bash -c "[ -z \"\$(ls -A '$TMP/$d' 2>/dev/null)\" ]"
done

echo "$pass passed, $failures failed"
[[ $failures -eq 0 ]]
