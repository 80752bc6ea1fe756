#!/usr/bin/python3
"""Reference FTRL-Proximal steps, for tests/optim/test_ftrl.cpp (optim::Ftrl). No PyTorch: it has
no FTRL. Written from the published rule (McMahan et al., "Ad Click Prediction: a View from the
Trenches", KDD 2013, Algorithm 1), per coordinate i with gradient g_i:

    sigma_i = (sqrt(n_i + g_i^2) - sqrt(n_i)) / alpha
    z_i <- z_i + g_i - sigma_i w_i
    n_i <- n_i + g_i^2
    w_i = 0                                                         if |z_i| <= lambda_1
          -(z_i - sgn(z_i) lambda_1) / ((beta + sqrt(n_i)) / alpha + lambda_2)   otherwise

Run by hand (Debian's python3-numpy): /usr/bin/python3 tests/reference/gen_ftrl.py
Writes tests/reference/data/ftrl.json: for each case the options, the starting weights, the
gradients of each step, and the weights, z and n after each step (f64). Deterministic.
"""
import json
import math
import os

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def tensor(values):
    a = np.asarray(values, dtype=np.float64)
    return {"shape": list(a.shape), "dtype": "f64", "data": a.ravel().tolist()}


def ftrl_steps(w, grads, alpha, beta, l1, l2, n0):
    w = [float(v) for v in w]
    z = [0.0] * len(w)
    n = [float(n0)] * len(w)
    after = []
    for g in grads:
        for i, gi in enumerate(g):
            sigma = (math.sqrt(n[i] + gi * gi) - math.sqrt(n[i])) / alpha
            z[i] += gi - sigma * w[i]
            n[i] += gi * gi
            if abs(z[i]) <= l1:
                w[i] = 0.0
            else:
                w[i] = -(z[i] - math.copysign(l1, z[i])) / ((beta + math.sqrt(n[i])) / alpha + l2)
        after.append({"w": tensor(w), "z": tensor(z), "n": tensor(n)})
    return after


def main():
    rng = np.random.default_rng(2013)
    cases = {}
    settings = {
        "plain": dict(alpha=0.1, beta=1.0, l1=0.0, l2=0.0, n0=0.0),
        "l1_l2": dict(alpha=0.5, beta=1.0, l1=1.0, l2=0.2, n0=0.0),
        "accumulator": dict(alpha=0.05, beta=0.5, l1=0.01, l2=1.0, n0=0.1),
    }
    for name, o in settings.items():
        w0 = rng.normal(size=6)
        grads = rng.normal(size=(5, 6))
        grads[2, 1] = 0.0  # a coordinate without gradient in one step (a feature not seen)
        cases[name] = {"options": o, "w0": tensor(w0), "grads": tensor(grads),
                       "steps": ftrl_steps(w0, grads, **o)}
    out = {"__meta__": {"numpy": np.__version__, "generator": "gen_ftrl.py"}}
    out.update(cases)
    with open(os.path.join(DATA_DIR, "ftrl.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
