#!/usr/bin/python3
"""Reference values for reductions, indexing, joining and views, from PyTorch 1.13.

Run by hand (Debian's python3-torch): /usr/bin/python3 tests/reference/gen_reduce_index.py
Writes tests/reference/data/reduce_index.json. Deterministic: fixed seeds. The C++ tests read
their inputs from the same file, so both sides compute on identical numbers.
"""

import torch

import refdata


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
        cases[name] = {"x": refdata.tensor(x), "cases": [
            {"axes": a, "keepdim": k, "out": refdata.tensor(fn(x, dim=a or [0, 1, 2], keepdim=k))}
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
                                      "out": refdata.tensor(out)})
        cases["var_" + suffix] = {"x": refdata.tensor(xv), "cases": var_cases}

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
                                      "values": refdata.tensor(values), "indices": refdata.tensor(indices),
                                      "arg": refdata.tensor(arg), "w": refdata.tensor(w), "grad": refdata.tensor(grad)})
    cases["extreme_along"] = {"x": refdata.tensor(xt), "cases": extreme_cases}

    # max()/min() over all elements split the gradient evenly among ties.
    all_cases = []
    for name in ("max", "min"):
        xa = with_ties(3, 4)
        out = getattr(torch, name)(xa)
        grad = grad_of(lambda v: getattr(torch, name)(v), xa, torch.tensor(1.5))
        all_cases.append({"op": name, "x": refdata.tensor(xa), "out": refdata.tensor(out), "grad": refdata.tensor(grad)})
    cases["extreme_all"] = all_cases


def indexing(cases):
    x = randn(4, 3)
    select_cases = []
    for axis, index in ((0, [3, 0, 3, 1]), (1, [2, 2, 0]), (-1, [1])):
        index = torch.tensor(index)
        out = torch.index_select(x, axis, index)
        w = randn(*out.shape)
        grad = grad_of(lambda v: torch.index_select(v, axis, index), x, w)
        select_cases.append({"x": refdata.tensor(x), "axis": axis, "index": refdata.tensor(index), "out": refdata.tensor(out),
                             "w": refdata.tensor(w), "grad": refdata.tensor(grad)})
    cases["index_select"] = select_cases

    xg = randn(3, 4)
    gather_cases = []
    for axis, index in ((1, torch.randint(0, 4, (2, 3))), (0, torch.randint(0, 3, (2, 4))),
                        (-1, torch.randint(0, 4, (3, 6)))):
        out = torch.gather(xg, axis, index)
        w = randn(*out.shape)
        grad = grad_of(lambda v: torch.gather(v, axis, index), xg, w)
        gather_cases.append({"x": refdata.tensor(xg), "axis": axis, "index": refdata.tensor(index), "out": refdata.tensor(out),
                             "w": refdata.tensor(w), "grad": refdata.tensor(grad)})
    cases["gather"] = gather_cases

    labels = torch.randint(0, 5, (2, 3))
    cases["one_hot"] = {"labels": refdata.tensor(labels), "num_classes": 5,
                        "out": refdata.tensor(torch.nn.functional.one_hot(labels, 5).to(torch.float32))}


def joining(cases):
    a, b, c = randn(2, 3), randn(2, 1), randn(2, 2)
    d = randn(1, 3)
    cases["concat"] = [
        {"tensors": [refdata.tensor(a), refdata.tensor(b), refdata.tensor(c)], "axis": 1, "out": refdata.tensor(torch.cat([a, b, c], 1))},
        {"tensors": [refdata.tensor(a), refdata.tensor(d)], "axis": 0, "out": refdata.tensor(torch.cat([a, d], 0))},
        {"tensors": [refdata.tensor(c), refdata.tensor(a)], "axis": -1, "out": refdata.tensor(torch.cat([c, a], -1))},
    ]
    s = [randn(2, 3) for _ in range(3)]
    cases["stack"] = [{"tensors": [refdata.tensor(t) for t in s], "axis": axis,
                       "out": refdata.tensor(torch.stack(s, axis))} for axis in (0, 1, 2, -1, -3)]
    x = randn(5, 4)
    cases["split"] = [
        {"x": refdata.tensor(x), "split_size": 2, "axis": 0,
         "parts": [refdata.tensor(p) for p in torch.split(x, 2, 0)]},
        {"x": refdata.tensor(x), "split_size": 3, "axis": -1,
         "parts": [refdata.tensor(p) for p in torch.split(x, 3, -1)]},
        {"x": refdata.tensor(x), "sizes": [1, 0, 3], "axis": 1,
         "parts": [refdata.tensor(p) for p in torch.split(x, [1, 0, 3], 1)]},
    ]


def views(cases):
    x = randn(2, 3, 4)
    cases["views"] = {
        "x": refdata.tensor(x),
        "permute_2_0_1": refdata.tensor(x.permute(2, 0, 1)),
        "transpose_0_2": refdata.tensor(x.transpose(0, 2)),
        "reshape_4_m1": refdata.tensor(x.reshape(4, -1)),
        "transposed_reshape_m1_6": refdata.tensor(x.transpose(1, 2).reshape(-1, 6)),
        "flatten_1_2": refdata.tensor(x.flatten(1, 2)),
        "slice_2_1_4_2": refdata.tensor(x[:, :, 1:4:2]),
        "slice_1_m2_end": refdata.tensor(x[:, -2:]),
        "select_1_m1": refdata.tensor(x.select(1, -1)),
        "expand_3_2_3_4": refdata.tensor(x[:, :1].expand(3, 2, 3, 4)),
    }


def main():
    torch.manual_seed(0)
    cases = {}
    reductions(cases)
    indexing(cases)
    joining(cases)
    views(cases)
    refdata.write("reduce_index", cases)


if __name__ == "__main__":
    main()
