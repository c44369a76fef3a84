#!/usr/bin/env bash
# scripts/figures: every expected figure is written (PNG and PDF, non-empty, valid
# headers), what a file lacks is skipped with a note instead of a crash, and bad input
# (missing file, not HDF5, no /models) exits with status 2 naming the file.
#
#   bash tests/cli/test_figures.sh BETACRIT_BINARY SOURCE_DIR
#
# Inputs: a real run of configs/paper.json shrunk to a few rows and short row lengths
# (every figure for every model of the paper must come out of it), and the synthetic
# SPEC §7 fixture of tests/data/figures/make_fixture.py, which covers what a small real
# run does not: tail mode (log2_n up to 1000, no n), missing groups, an unscaled run.
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
expect_exactly() {  # DIR "EXT..." STEM...: DIR holds STEM.EXT for each stem and each
  local dir=$1 exts=($2); shift 2  # extension, nothing else
  local ok=0 want=() stem
  for stem in "$@"; do
    for ext in "${exts[@]}"; do
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

# --- a real run: configs/paper.json with its models, scale and estimators, shrunk ---------
"$PY" - "$SRC/scripts/figures" "$SRC/configs/paper.json" "$TMP/paper-small.json" "$TMP/labels" <<'PYEOF' \
  || { echo "FAIL: shrinking configs/paper.json"; exit 1; }
import importlib.machinery, json, sys
figures = importlib.machinery.SourceFileLoader("figures", sys.argv[1]).load_module()
cfg = json.loads(figures.strip_json_comments(open(sys.argv[2]).read()))
cfg.update(rows=24, n=[64, 256, 1024], output="unused.h5")
cfg["beta"]["count"] = 16
cfg["gaps"] = {"t_max": 4.0, "count": 16}
json.dump(cfg, open(sys.argv[3], "w"), indent=1)
open(sys.argv[4], "w").write(" ".join(m.get("label", m["type"]) for m in cfg["models"]))
PYEOF
check "shrunk paper run exits 0" \
  exit_status_is 0 "$BIN" run "$TMP/paper-small.json" -o "$TMP/paper-small.h5" --quiet
check "figures of the shrunk paper run exit 0" \
  exit_status_is 0 "$FIG" "$TMP/paper-small.h5" -o "$TMP/paper-figs" --formats png --dpi 40
cp "$TMP/out" "$TMP/paper.log"
stems=(collapse-overview laws-comparison)
for label in $(cat "$TMP/labels"); do
  for kind in gaps observables collapse beta-star phase; do stems+=("$kind-$label"); done
done
check "paper run: every figure for every model (${#stems[@]} figures)" \
  expect_exactly "$TMP/paper-figs" png "${stems[@]}"
# A run carries everything but the fits (and the limit curve where theory has none):
# nothing else may be reported missing.
check "paper run: no figure input missing" \
  bash -c "! grep '^note:' '$TMP/paper.log' | grep -v 'no fit/ group\|no theory/c + theory/norm_entropy'"

# --- the synthetic fixture ----------------------------------------------------------------
"$PY" "$SRC/tests/data/figures/make_fixture.py" "$TMP/data" || { echo "FAIL: fixture"; exit 1; }

# --- scaled run: three models, one of them in tail mode (log2_n up to 1000) -------------
check "figures on the scaled fixture exits 0" \
  exit_status_is 0 "$FIG" "$TMP/data/scaled.h5" -o "$TMP/scaled" --dpi 60
cp "$TMP/out" "$TMP/scaled.log"
check "scaled fixture: exactly the expected figures" expect_exactly "$TMP/scaled" "png pdf" \
  gaps-gaussian gaps-sparse-log2 \
  observables-gaussian observables-sparse-log2 observables-tail-gauss \
  collapse-gaussian collapse-sparse-log2 collapse-tail-gauss \
  beta-star-gaussian beta-star-sparse-log2 beta-star-tail-gauss \
  phase-gaussian phase-tail-gauss \
  collapse-overview laws-comparison
check "note: tail model without gaps" mentions "$TMP/scaled.log" "tail-gauss: no gaps/ group"
check "note: observable not stored" mentions "$TMP/scaled.log" "sparse-log2: observable(s) norm_entropy not stored"
check "note: no fit group" mentions "$TMP/scaled.log" "sparse-log2: no fit/ group"
check "note: failed fit not drawn" mentions "$TMP/scaled.log" "gaussian: fit/half_mass has no finite gamma and A"
check "note: no limit curve" mentions "$TMP/scaled.log" "tail-gauss: no theory/c + theory/norm_entropy"
check "note: phase diagram needs norm_entropy" mentions "$TMP/scaled.log" "sparse-log2: norm_entropy not stored; phase diagram skipped"

# --- unscaled run: no c grid and no theory, so no collapse and no phase diagram -------
check "figures on the unscaled fixture exits 0" \
  exit_status_is 0 "$FIG" "$TMP/data/unscaled.h5" -o "$TMP/unscaled" --dpi 60
cp "$TMP/out" "$TMP/unscaled.log"
check "unscaled fixture: collapse and phase skipped" expect_exactly "$TMP/unscaled" "png pdf" \
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
