#!/usr/bin/python3
"""Reference values for reductions, indexing, joining and views, from PyTorch 1.13.

Run by hand (Debian's python3-torch): /usr/bin/python3 tests/reference/gen_reduce_index.py
Writes tests/reference/data/reduce_index.json. Deterministic: fixed seeds. The C++ tests read
their inputs from the same file, so both sides compute on identical numbers.
"""
import json
import os

import torch

DTYPES = {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64", torch.bool: "bool"}


def t2j(t):
    t = t.detach()
    return {"shape": list(t.shape), "dtype": DTYPES[t.dtype], "data": t.reshape(-1).tolist()}


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


def with_ties(*shape):
    """Small integers as floats, so that extremes repeat along every axis."""
    return torch.randint(0, 3, shape).to(torch.float32)


def grad_of(fn, x, w):
    """Gradient of sum(fn(x) * w) with respect to x."""
    x = x.detach().clone().requires_grad_(True)
    (fn(x) * w).sum().backward()
    return x.grad


def reductions(cases):
    x = randn(3, 4, 5)
    axes_list = [[], [1], [0, 2], [-1], [-3, -1]]
    for name in ("sum", "mean"):
        fn = getattr(torch, name)
        cases[name] = {"x": t2j(x), "cases": [
            {"axes": a, "keepdim": k, "out": t2j(fn(x, dim=a or [0, 1, 2], keepdim=k))}
            for a in axes_list for k in (False, True)]}
    for dtype, suffix in ((torch.float32, "f32"), (torch.float64, "f64")):
        xv = randn(3, 4, 5, dtype=dtype) * 3 + 1
        var_cases = []
        for a in axes_list:
            for correction in (0, 1):
                for k in (False, True):
                    dims = a if a else list(range(xv.dim()))
                    out = torch.var(xv, dim=dims, unbiased=correction == 1, keepdim=k)
                    var_cases.append({"axes": a, "correction": correction, "keepdim": k,
                                      "out": t2j(out)})
        cases["var_" + suffix] = {"x": t2j(xv), "cases": var_cases}

    # Ties everywhere: the first index wins, and the gradient goes to it alone.
    xt = with_ties(4, 5, 3)
    extreme_cases = []
    for name in ("max", "min"):
        for axis in (0, 1, -1):
            for k in (False, True):
                values, indices = getattr(torch, name)(xt, dim=axis, keepdim=k)
                w = randn(*values.shape)
                grad = grad_of(lambda v: getattr(torch, name)(v, dim=axis, keepdim=k).values,
                               xt, w)
                arg = getattr(torch, "arg" + name)(xt, dim=axis, keepdim=k)
                extreme_cases.append({"op": name, "axis": axis, "keepdim": k,
                                      "values": t2j(values), "indices": t2j(indices),
                                      "arg": t2j(arg), "w": t2j(w), "grad": t2j(grad)})
    cases["extreme_along"] = {"x": t2j(xt), "cases": extreme_cases}

    # max()/min() over all elements split the gradient evenly among ties.
    all_cases = []
    for name in ("max", "min"):
        xa = with_ties(3, 4)
        out = getattr(torch, name)(xa)
        grad = grad_of(lambda v: getattr(torch, name)(v), xa, torch.tensor(1.5))
        all_cases.append({"op": name, "x": t2j(xa), "out": t2j(out), "grad": t2j(grad)})
    cases["extreme_all"] = all_cases


def indexing(cases):
    x = randn(4, 3)
    select_cases = []
    for axis, index in ((0, [3, 0, 3, 1]), (1, [2, 2, 0]), (-1, [1])):
        index = torch.tensor(index)
        out = torch.index_select(x, axis, index)
        w = randn(*out.shape)
        grad = grad_of(lambda v: torch.index_select(v, axis, index), x, w)
        select_cases.append({"x": t2j(x), "axis": axis, "index": t2j(index), "out": t2j(out),
                             "w": t2j(w), "grad": t2j(grad)})
    cases["index_select"] = select_cases

    xg = randn(3, 4)
    gather_cases = []
    for axis, index in ((1, torch.randint(0, 4, (2, 3))), (0, torch.randint(0, 3, (2, 4))),
                        (-1, torch.randint(0, 4, (3, 6)))):
        out = torch.gather(xg, axis, index)
        w = randn(*out.shape)
        grad = grad_of(lambda v: torch.gather(v, axis, index), xg, w)
        gather_cases.append({"x": t2j(xg), "axis": axis, "index": t2j(index), "out": t2j(out),
                             "w": t2j(w), "grad": t2j(grad)})
    cases["gather"] = gather_cases

    labels = torch.randint(0, 5, (2, 3))
    cases["one_hot"] = {"labels": t2j(labels), "num_classes": 5,
                        "out": t2j(torch.nn.functional.one_hot(labels, 5).to(torch.float32))}


def joining(cases):
    a, b, c = randn(2, 3), randn(2, 1), randn(2, 2)
    d = randn(1, 3)
    cases["concat"] = [
        {"tensors": [t2j(a), t2j(b), t2j(c)], "axis": 1, "out": t2j(torch.cat([a, b, c], 1))},
        {"tensors": [t2j(a), t2j(d)], "axis": 0, "out": t2j(torch.cat([a, d], 0))},
        {"tensors": [t2j(c), t2j(a)], "axis": -1, "out": t2j(torch.cat([c, a], -1))},
    ]
    s = [randn(2, 3) for _ in range(3)]
    cases["stack"] = [{"tensors": [t2j(t) for t in s], "axis": axis,
                       "out": t2j(torch.stack(s, axis))} for axis in (0, 1, 2, -1, -3)]
    x = randn(5, 4)
    cases["split"] = [
        {"x": t2j(x), "split_size": 2, "axis": 0,
         "parts": [t2j(p) for p in torch.split(x, 2, 0)]},
        {"x": t2j(x), "split_size": 3, "axis": -1,
         "parts": [t2j(p) for p in torch.split(x, 3, -1)]},
        {"x": t2j(x), "sizes": [1, 0, 3], "axis": 1,
         "parts": [t2j(p) for p in torch.split(x, [1, 0, 3], 1)]},
    ]


def views(cases):
    x = randn(2, 3, 4)
    cases["views"] = {
        "x": t2j(x),
        "permute_2_0_1": t2j(x.permute(2, 0, 1)),
        "transpose_0_2": t2j(x.transpose(0, 2)),
        "reshape_4_m1": t2j(x.reshape(4, -1)),
        "transposed_reshape_m1_6": t2j(x.transpose(1, 2).reshape(-1, 6)),
        "flatten_1_2": t2j(x.flatten(1, 2)),
        "slice_2_1_4_2": t2j(x[:, :, 1:4:2]),
        "slice_1_m2_end": t2j(x[:, -2:]),
        "select_1_m1": t2j(x.select(1, -1)),
        "expand_3_2_3_4": t2j(x[:, :1].expand(3, 2, 3, 4)),
    }


def main():
    torch.manual_seed(0)
    cases = {}
    reductions(cases)
    indexing(cases)
    joining(cases)
    views(cases)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "reduce_index.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
