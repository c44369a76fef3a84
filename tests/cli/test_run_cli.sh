#!/usr/bin/env bash
# Usage: test_run_cli.sh BETACRIT_BINARY SOURCE_DIR
# `betacrit run` from the outside: refusing to overwrite, refusing to resume another
# config, unwritable outputs, closed forms of sparse_gap read back with h5py, a
# description on every dataset, and a shrunk copy of every shipped config in configs/.
set -u
bin="$1"
src="$2"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fail=0
bad() {
  echo "FAIL $*"
  fail=1
}
# expect_status STATUS DESCRIPTION -- command...: runs the command, output in $tmp/out, $tmp/err
expect_status() {
  local want="$1" what="$2"
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local got=$?
  if [ "$got" -ne "$want" ]; then
    bad "$what: exit status $got, expected $want"
    sed 's/^/    stderr: /' "$tmp/err" | head -20
    return 1
  fi
  return 0
}
stderr_has() {  # TEXT DESCRIPTION
  grep -qF -- "$1" "$tmp/err" || { bad "$2: stderr lacks '$1'"; sed 's/^/    stderr: /' "$tmp/err" | head -20; }
}

# ------------------------------------------------------------- which mode made each n
# Tail mode draws rows of n <= 5120 in full: the output says so per n (row_mode) and the
# summary marks the model.
cat >"$tmp/tail.json" <<'EOF'
{"seed": 5, "rows": 4, "n": {"log2": [8, 14, 20]}, "mode": "tail",
 "beta": {"min": 0.1, "max": 8, "count": 8}, "models": [{"type": "gaussian"}]}
EOF
if expect_status 0 "tail-mode run" -- "$bin" run "$tmp/tail.json" -o "$tmp/tail.h5"; then
  grep -q "^gaussian  *tail\* " "$tmp/out" || bad "tail-mode summary does not mark the rows drawn in full (tail*)"
  grep -q "^tail\*: " "$tmp/out" || bad "tail-mode summary lacks the tail* note"
  "$py" - "$tmp/tail.h5" <<'EOF' || bad "tail-mode row_mode attribute"
import sys
import h5py
g = h5py.File(sys.argv[1], "r")["models/gaussian"]
got = (g.attrs["mode"], list(g.attrs["row_mode"]))
if got != ("tail", ["exact", "tail", "tail"]):
    print("    mode, row_mode =", got)
    sys.exit(1)
EOF
fi

# ------------------------------------------------------------- closed forms
# sparse_gap with noise 0: every row is the same row, max_weight = 1/(m + (n-m) e^{-beta delta})
# with delta = gap/(log n)^a, and beta_acc = beta_half = log((n-m)/m)/delta per row.
cat >"$tmp/sparse.json" <<'EOF'
// two sparse_gap models with known closed forms
{"seed": 3, "rows": 4, "n": [5, 100, 5000, 200000],
 "beta": {"min": 0.01, "max": 50, "count": 30},
 "gaps": {"t_max": 2.0, "count": 16},
 "models": [{"type": "sparse_gap", "gap": 0.7, "gap_exponent": 0, "signals": 2, "label": "flat"},
            {"type": "sparse_gap", "gap": 0.7, "gap_exponent": 1, "signals": 2, "label": "shrinking"}]}
EOF
out="$tmp/res/sub/sparse.h5"  # the output directory does not exist yet
if expect_status 0 "closed-form run" -- "$bin" run "$tmp/sparse.json" -o "$out"; then
  grep -q "flat" "$tmp/out" || bad "the summary table on stdout does not list model 'flat'"
  if ! "$py" - "$out" <<'EOF'; then
import sys
import h5py
import numpy as np

f = h5py.File(sys.argv[1], "r")
problems = []
assert bool(f.attrs["complete"]), "complete is not true"
for label, a in (("flat", 0.0), ("shrinking", 1.0)):
    g = f["models"][label]
    n = g["n"][()].astype(float)
    beta = g["beta"][()]
    delta = 0.7 / np.log(n) ** a
    m = 2.0
    mw = 1.0 / (m + (n[:, None] - m) * np.exp(-beta * delta[:, None]))
    err = np.max(np.abs(g["obs/max_weight/mean"][()] / mw - 1))
    if err > 1e-12:
        problems.append(f"{label}: max_weight off by {err:.3g} relative")
    top = m * mw
    err = np.max(np.abs(g["obs/top_mass/mean"][()] / top - 1))
    if err > 1e-12:
        problems.append(f"{label}: top_mass off by {err:.3g} relative")
    closed = np.log((n - m) / m) / delta
    for est in ("accumulation", "half_mass"):
        rows = g["critical/" + est][()]
        err = np.max(np.abs(rows / closed[:, None] - 1))
        if rows.shape != (4, 4) or err > 1e-12:
            problems.append(f"{label}: {est} shape {rows.shape}, off by {err:.3g} relative")
    t = g["gaps/t"][()]
    expected = np.where(t[None, :] >= delta[:, None], n[:, None] - m, 0.0)
    if not np.array_equal(g["gaps/mean_count"][()], expected):
        problems.append(f"{label}: gaps/mean_count is not the step (n - m)[t >= delta]")
    if g.attrs["type"] != "sparse_gap" or g.attrs["mode"] != "exact":
        problems.append(f"{label}: type/mode attributes wrong")
    if list(g.attrs["row_mode"]) != ["exact"] * 4:
        problems.append(f"{label}: row_mode {list(g.attrs['row_mode'])}, expected exact for every n")
    if abs(g.attrs["law_gamma"] - (1 + a)) > 0:
        problems.append(f"{label}: law_gamma {g.attrs['law_gamma']} != {1 + a}")
    if '"signals":2' not in g.attrs["params"] or '"noise":0' not in g.attrs["params"]:
        problems.append(f"{label}: params lacks the filled-in defaults: {g.attrs['params']}")

# Every dataset has a description; beta-like datasets carry units.
def check(name, obj):
    if isinstance(obj, h5py.Dataset):
        if not str(obj.attrs.get("description", "")).strip():
            problems.append(f"/{name}: no description")
        leaf = name.split("/")[-1]
        if leaf in ("beta", "accumulation", "half_mass", "beta_star") and obj.attrs.get("units") != "1/score":
            problems.append(f"/{name}: units should be 1/score")
f.visititems(check)
for key in ("betacrit_version", "config", "seed", "rng", "created_utc", "complete"):
    if key not in f.attrs:
        problems.append(f"root attribute {key} missing")
if f.attrs["seed"] != 3:
    problems.append("seed attribute wrong")
if '"label": "flat"' not in f.attrs["config"]:
    problems.append("config attribute is not the config text")
if "progress" in f:
    problems.append("a complete file still has /progress")
for p in problems:
    print("   ", p)
sys.exit(1 if problems else 0)
EOF
    bad "closed forms / descriptions read back with h5py"
  fi
fi

# ----------------------------------------------------------- existing output
before=$(md5sum <"$out")
if expect_status 2 "run onto an existing output" -- "$bin" run "$tmp/sparse.json" -o "$out"; then
  stderr_has "--resume" "existing output"
  stderr_has "--force" "existing output"
  stderr_has "$out" "existing output"
fi
[ "$(md5sum <"$out")" = "$before" ] || bad "the refused run changed the existing output"

# --resume on a complete file: nothing to do, exit 0, file unchanged.
expect_status 0 "--resume of a complete run" -- "$bin" run "$tmp/sparse.json" -o "$out" --resume &&
  stderr_has "already complete" "--resume of a complete run"
[ "$(md5sum <"$out")" = "$before" ] || bad "--resume of a complete run changed the file"

# --resume with another config: refused, file unchanged.
sed 's/"seed": 3/"seed": 4/' "$tmp/sparse.json" >"$tmp/other.json"
if expect_status 2 "--resume with a different config" -- "$bin" run "$tmp/other.json" -o "$out" --resume; then
  stderr_has "different config" "--resume with a different config"
  stderr_has "--force" "--resume with a different config"
fi
[ "$(md5sum <"$out")" = "$before" ] || bad "the refused resume changed the output"

# --resume of something that is not a betacrit file.
echo "not hdf5" >"$tmp/junk.h5"
expect_status 2 "--resume of a non-HDF5 file" -- "$bin" run "$tmp/sparse.json" -o "$tmp/junk.h5" --resume &&
  stderr_has "junk.h5" "--resume of a non-HDF5 file"

# --force overwrites (a different seed gives a different config attribute).
if expect_status 0 "--force" -- "$bin" run "$tmp/other.json" -o "$out" --force --quiet; then
  "$py" -c 'import sys,h5py; sys.exit(0 if h5py.File(sys.argv[1],"r").attrs["seed"] == 4 else 1)' "$out" ||
    bad "--force did not overwrite the output"
fi

# --resume with no output yet simply starts.
expect_status 0 "--resume without an output file" -- "$bin" run "$tmp/sparse.json" -o "$tmp/fresh.h5" --resume --quiet
[ -f "$tmp/fresh.h5" ] || bad "--resume without an output file wrote nothing"

# --resume and --force together are a usage error.
expect_status 2 "--resume with --force" -- "$bin" run "$tmp/sparse.json" -o "$tmp/x.h5" --resume --force

# Unwritable output: the parent is a regular file.
echo x >"$tmp/plainfile"
expect_status 2 "unwritable output" -- "$bin" run "$tmp/sparse.json" -o "$tmp/plainfile/out.h5" &&
  stderr_has "$tmp/plainfile" "unwritable output"

# A bad config writes nothing.
echo '{"seed": 1, "rows": 0, "n": [8], "beta": {"values": [1]}, "models": [{"type": "gaussian"}]}' >"$tmp/bad.json"
if expect_status 2 "bad config" -- "$bin" run "$tmp/bad.json" -o "$tmp/bad-out/x.h5"; then
  stderr_has "rows" "bad config"
  [ -e "$tmp/bad-out" ] && bad "a bad config created output files"
fi

# Progress: plain lines on a non-terminal stderr, nothing with --quiet.
expect_status 0 "progress lines" -- "$bin" run "$tmp/sparse.json" -o "$tmp/p1.h5"
grep -q "100%" "$tmp/err" || bad "no final progress line on stderr"
expect_status 0 "--quiet" -- "$bin" run "$tmp/sparse.json" -o "$tmp/p2.h5" --quiet
[ -s "$tmp/err" ] && bad "--quiet still printed on stderr: $(head -3 "$tmp/err")"

# ------------------------------------------------------- shipped configs, shrunk
# Every configs/*.json, with few rows, two short row lengths and a small grid, must run.
mkdir -p "$tmp/shrunk"
"$py" - "$src/configs" "$tmp/shrunk" <<'EOF' || bad "could not shrink the shipped configs"
import json, pathlib, sys

def strip_comments(text):
    out, i, in_str = [], 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1]); i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True; out.append(c)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)

src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
configs = sorted(src.glob("*.json"))
if not configs:
    sys.exit("no configs in " + str(src))
for path in configs:
    cfg = json.loads(strip_comments(path.read_text()))
    cfg["rows"] = 3
    cfg["n"] = {"log2": [6, 9]}
    beta = cfg.get("beta", {})
    if "count" in beta:
        beta["count"] = min(beta["count"], 8)
    cfg["output"] = str(dst / (path.stem + ".h5"))
    (dst / path.name).write_text(json.dumps(cfg, indent=1))
EOF
shipped=0
for config in "$tmp"/shrunk/*.json; do
  [ -e "$config" ] || continue
  shipped=$((shipped + 1))
  name=$(basename "$config" .json)
  (cd "$src" && "$bin" run "$config" --quiet >"$tmp/out" 2>"$tmp/err" </dev/null)
  status=$?
  if [ "$status" -ne 0 ]; then
    bad "shrunk configs/$name.json: exit status $status"
    sed 's/^/    stderr: /' "$tmp/err" | head -10
  elif [ ! -f "$tmp/shrunk/$name.h5" ]; then
    bad "shrunk configs/$name.json wrote no output"
  fi
done
[ "$shipped" -ge 3 ] || bad "expected at least 3 shipped configs, found $shipped"

[ "$fail" -eq 0 ] && echo "ok: run CLI behaviour, closed forms and $shipped shipped configs"
exit "$fail"
