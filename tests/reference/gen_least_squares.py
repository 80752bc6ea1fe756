#!/usr/bin/python3
"""Reference least-squares solutions by NumPy, for tests/data/test_tabular.cpp (data::least_squares).

Run by hand (Debian's python3-numpy): /usr/bin/python3 tests/reference/gen_least_squares.py
Writes tests/reference/data/least_squares.json: for each case x [n, p] and y [n] (f64) and
NumPy's np.linalg.lstsq solution w. Deterministic (a seeded generator, fixed values).
"""
import json
import os

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def tensor(a):
    return {"shape": list(a.shape), "dtype": "f64", "data": a.ravel().tolist()}


def case(x, y):
    w = np.linalg.lstsq(x, y, rcond=None)[0]
    return {"x": tensor(x), "y": tensor(y), "w": tensor(w)}


def main():
    rng = np.random.default_rng(17)
    cases = {}
    # An intercept and 5 features, noisy targets (the system is overdetermined, not exact).
    x = np.concatenate([np.ones((40, 1)), rng.normal(size=(40, 5))], axis=1)
    cases["overdetermined"] = case(x, x @ np.array([3.0, -1.0, 0.5, 2.0, 0.0, -4.0])
                                   + rng.normal(scale=0.3, size=40))
    # Square and exactly solvable.
    x = rng.normal(size=(4, 4))
    cases["square"] = case(x, rng.normal(size=4))
    # Nearly collinear columns (condition number ~1e6): QR keeps the digits the normal equations
    # would lose.
    base = rng.normal(size=(30, 3))
    x = np.concatenate([base, base[:, :1] + 1e-6 * rng.normal(size=(30, 1))], axis=1)
    cases["ill_conditioned"] = case(x, rng.normal(size=30))
    out = {"__meta__": {"numpy": np.__version__, "generator": "gen_least_squares.py"}}
    out.update(cases)
    with open(os.path.join(DATA_DIR, "least_squares.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
