#!/usr/bin/python3
"""TEST FIXTURE ONLY — not a producer of results.

Writes small synthetic files in the SPEC §7 layout so that scripts/figures can be
exercised without running a sweep. The numbers are smooth made-up curves of the right
shape (they are not simulations and must never be shown as results); the layout
(group names, shapes, dtypes, attributes) follows SPEC §7, which is what the figure
script reads.

    make_fixture.py OUT_DIR     → OUT_DIR/scaled.h5, OUT_DIR/unscaled.h5

scaled.h5   "scale": "theory"; models
            gaussian     exact mode (n uint64 only, no log2_n), every group: obs, critical (+summaries,
                         sweep_half_mass [N]), gaps, theory/, fit/accumulation (fitted from
                         n = 256), fit/half_mass (a failed fit: NaN), fit/collapse_norm_entropy
            sparse-log2  exact mode (n and log2_n), no theory/ group and no fit/ group (β*(n) must come
                         from the stored c grid), only max_weight stored
            tail-gauss   tail mode (log2_n up to 1000, no n dataset), no gaps group
unscaled.h5 "scale": "none", no c, no theory/: the c-collapse and phase diagram cannot
            be drawn and must be skipped with a note.
"""
import json
import math
import os
import sys

import h5py
import numpy as np

ROWS = 40
C_GRID = np.geomspace(0.1, 4.0, 24)


def config_text(scale):
    # Comments as the C++ parser allows them (nlohmann ignore_comments).
    return (
        "{\n  // fixture config\n"
        '  "name": "fixture", "seed": 7, "output": "fixture.h5", "rows": %d,\n'
        '  "beta": {"min": 0.1, "max": 4, "count": 24, "spacing": "log", "scale": "%s"}, '
        "/* block comment with // inside */\n"
        '  "url": "http://example//not-a-comment",\n'
        '  "models": [{"type": "gaussian"}]\n}\n' % (ROWS, scale)
    )


def sigmoid_drop(x, centre, steep):
    return 1.0 / (1.0 + (x / centre) ** steep)


def write_dataset(g, name, data, description, units=None):
    d = g.create_dataset(name, data=data)
    d.attrs["description"] = description
    if units:
        d.attrs["units"] = units
    return d


def write_model(root, label, mtype, params, log2_n, beta_star, scaled, rng,
                store_n=True, store_log2=True, gaps=True, fit=True, theory=True,
                observables=("norm_entropy", "max_weight", "entropy"), law_gamma=None):
    g = root.create_group("models/" + label)
    g.attrs["type"] = mtype
    g.attrs["params"] = json.dumps(params)
    if law_gamma is not None:
        g.attrs["law_gamma"] = law_gamma
    log2_n = np.asarray(log2_n, dtype=np.float64)
    log_n = log2_n * math.log(2.0)
    if store_n:
        write_dataset(g, "n", np.round(2.0 ** log2_n).astype(np.uint64), "row length")
    if store_log2:
        write_dataset(g, "log2_n", log2_n, "log2 of the row length")
    if scaled:
        c = C_GRID
        beta = beta_star[:, None] * c[None, :]
        write_dataset(g, "c", c, "grid value c; beta = c * scale(n)")
    else:
        beta = np.tile(np.geomspace(0.1, 8.0, len(C_GRID)), (len(log2_n), 1))
    write_dataset(g, "beta", beta, "inverse temperature swept", "1/score")

    cc = beta / beta_star[:, None]
    centre = 0.8 + 0.15 * np.tanh(log2_n / 60.0)
    steep = 2.0 + np.sqrt(log2_n)
    ne = sigmoid_drop(cc, centre[:, None], steep[:, None])
    mw = 1.0 - sigmoid_drop(cc, 1.1 * centre[:, None], steep[:, None])
    curves = {"norm_entropy": ne, "max_weight": mw, "entropy": ne * log_n[:, None]}
    for name in observables:
        o = g.create_group("obs/" + name)
        write_dataset(o, "mean", curves[name], "mean of %s over rows" % name)
        write_dataset(o, "sem", 0.01 * np.ones_like(beta), "standard error of the mean")

    cols = ["median", "median_lo", "median_hi", "mean_log", "sem_log"]
    for est, factor in (("accumulation", 0.85), ("half_mass", 1.1)):
        per_row = factor * beta_star[:, None] * np.exp(0.2 * rng.standard_normal((len(log2_n), ROWS)))
        write_dataset(g, "critical/" + est, per_row, "per-row critical beta", "1/score")
        med = np.median(per_row, axis=1)
        summ = np.stack([med, 0.95 * med, 1.05 * med,
                         np.log(per_row).mean(axis=1), np.log(per_row).std(axis=1, ddof=1) / math.sqrt(ROWS)], axis=1)
        d = write_dataset(g, "critical/%s_summary" % est, summ, "per-n summary")
        d.attrs["columns"] = cols if est == "accumulation" else ",".join(cols)
    write_dataset(g, "critical/sweep_half_mass", 1.2 * beta_star, "sweep-level beta", "1/score")

    if gaps:
        t = np.linspace(4.0 / 32, 4.0, 32)
        counts = np.minimum(2.0 ** log2_n[:, None] - 1, np.expm1(beta_star[:, None] * t[None, :] * 0.8))
        counts[:, 0] = 0.0  # a zero that the log axis must survive
        write_dataset(g, "gaps/t", t, "gap grid", "score")
        write_dataset(g, "gaps/mean_count", counts, "mean N_n(t) over rows")

    if fit:
        f = g.create_group("fit/accumulation")
        f.attrs.update({"gamma": 0.64, "gamma_lo": 0.60, "gamma_hi": 0.69, "A": 0.9, "B": 0.0,
                        "family": "plain", "gamma_plain": 0.64, "chi2_dof": 1.3,
                        "law_weights": json.dumps({"sqrt_log": 0.4, "log": 0.6}),
                        "verdict": "inconclusive", "reason": "fixture", "n_min": 256.0})
        nan = float("nan")  # a fit that failed: no line, a note
        g.create_group("fit/half_mass").attrs.update({"gamma": nan, "gamma_lo": nan, "gamma_hi": nan,
                                                       "A": nan, "B": nan, "family": "plain",
                                                       "verdict": "inconclusive", "reason": "fixture"})
        g.create_group("fit/collapse_norm_entropy").attrs.update(
            {"gamma": 0.55, "gamma_sigma": 0.03, "quality": 1.2, "note": ""})
    if theory:
        th = g.create_group("theory")
        write_dataset(th, "beta_star", beta_star, "theoretical beta*(n)", "1/score")
        tc = np.linspace(0.0, 2.0, 81)
        write_dataset(th, "c", tc, "c grid of the limit curve")
        write_dataset(th, "norm_entropy", np.clip(1 - tc ** 2, 0, None), "limit of H/log n")


def write_file(path, scaled):
    rng = np.random.default_rng(12345)
    with h5py.File(path, "w") as f:
        f.attrs["betacrit_version"] = "fixture"
        f.attrs["config"] = config_text("theory" if scaled else "none")
        f.attrs["seed"] = 7
        f.attrs["complete"] = True
        l2 = np.array([6.0, 8, 10, 12, 14])
        write_model(f, "gaussian", "gaussian", {"mu": 0, "sigma": 1}, l2,
                    np.sqrt(2 * l2 * math.log(2)), scaled, rng, theory=scaled, law_gamma=0.5,
                    store_log2=False)
        if scaled:
            write_model(f, "sparse-log2", "sparse_gap", {"gap": 1, "gap_exponent": 1}, l2,
                        (l2 * math.log(2)) * np.log(2 ** l2 - 1), True, rng,
                        fit=False, theory=False, observables=("max_weight",), law_gamma=2.0)
            tl2 = np.array([8.0, 16, 64, 256, 1000])
            write_model(f, "tail-gauss", "gaussian", {"mu": 0, "sigma": 1}, tl2,
                        np.sqrt(2 * tl2 * math.log(2)), True, rng,
                        store_n=False, gaps=False, fit=False, theory=False, law_gamma=0.5)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixture.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write_file(os.path.join(out, "scaled.h5"), True)
    write_file(os.path.join(out, "unscaled.h5"), False)


if __name__ == "__main__":
    main()
