"""Compares two betacrit results files: every group, dataset and attribute must be equal,
bit for bit, except the root attribute created_utc. Exit 0 when equal, 1 otherwise.

Usage: /usr/bin/python3 h5compare.py REFERENCE.h5 OTHER.h5
"""
import sys

import h5py
import numpy as np


def same_value(x, y):
    ax, ay = np.asarray(x), np.asarray(y)
    if ax.dtype != ay.dtype or ax.shape != ay.shape:
        return False
    if ax.dtype.kind == "O":  # variable-length strings
        return ax.tolist() == ay.tolist()
    return ax.tobytes() == ay.tobytes()


def compare(ref_path, other_path):
    problems = []
    with h5py.File(ref_path, "r") as a, h5py.File(other_path, "r") as b:
        names_a, names_b = [], []
        a.visit(names_a.append)
        b.visit(names_b.append)
        if sorted(names_a) != sorted(names_b):
            only_a = sorted(set(names_a) - set(names_b))
            only_b = sorted(set(names_b) - set(names_a))
            problems.append(f"objects differ: only in reference {only_a[:10]}, only in other {only_b[:10]}")
        for name in [""] + sorted(set(names_a) & set(names_b)):
            x, y = (a, b) if name == "" else (a[name], b[name])
            where = "/" + name
            if type(x) is not type(y):
                problems.append(f"{where}: one is a group, the other a dataset")
                continue
            skip = {"created_utc"} if name == "" else set()
            kx, ky = set(x.attrs) - skip, set(y.attrs) - skip
            if kx != ky:
                problems.append(f"{where}: attributes differ: {sorted(kx ^ ky)}")
            for k in sorted(kx & ky):
                if not same_value(x.attrs[k], y.attrs[k]):
                    problems.append(f"{where}: attribute {k} differs")
            if isinstance(x, h5py.Dataset):
                if x.dtype != y.dtype or x.shape != y.shape:
                    problems.append(f"{where}: dtype/shape {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
                elif not same_value(x[()], y[()]):
                    problems.append(f"{where}: values differ")
    return problems


if __name__ == "__main__":
    problems = compare(sys.argv[1], sys.argv[2])
    for p in problems[:30]:
        print("  " + p)
    sys.exit(1 if problems else 0)
