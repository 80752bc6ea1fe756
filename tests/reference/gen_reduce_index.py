#!/usr/bin/python3
"""Reference values for reductions, indexing, joining and views, from PyTorch 1.13.

Run by hand (Debian's python3-torch): /usr/bin/python3 tests/reference/gen_reduce_index.py
Writes tests/reference/data/reduce_index.json. Deterministic: fixed seeds. The C++ tests read
their inputs from the same file, so both sides compute on identical numbers.

Each case, named "<op>/<arguments>" (the layout tests/support/op_test.hpp replays): its inputs
("x", or "a", "b", "c" for the tensors joined, "index", "labels"), its arguments (axes, axis,
keepdim, correction, dims, shape, ...), its outputs ("out"; "values" and "indices" of max and
min along an axis with "arg" for argmax/argmin; "part0", ... for split), the upstream gradient of
each differentiable output ("grad_out", "grad_values", "grad_part0", ...) and the gradient of each
floating input ("grad_x", "grad_a", ...) of the sum of the outputs times their upstream gradients.

The upstream gradients of the sums, means, variances, joins and views come from a generator of
their own (GRADS): added to these cases, first written forward-only, they left every value drawn
from the main seed as it was.
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


def named(*parts):
    """The parts of a case name that are not empty, joined by "_"; "-1" is written "m1"."""
    return "_".join(str(p).replace("-", "m") for p in parts if p != "")


def axes_name(axes):
    return "all" if not axes else "axes_" + named(*axes)


GRADS = torch.Generator().manual_seed(1)


def with_grads(entry, fn, inputs, outputs=("out",)):
    """Adds to `entry` upstream gradients from GRADS for fn's outputs (named `outputs`; "out" has
    "grad_out", "part0" has "grad_part0") and the gradients of `inputs` (name -> tensor), the
    arguments of fn. Returns `entry`."""
    leaves = {name: t.detach().clone().requires_grad_(True) for name, t in inputs.items()}
    results = fn(**leaves)
    results = results if isinstance(results, (tuple, list)) else (results,)
    total = 0
    for name, out in zip(outputs, results, strict=True):
        grad = torch.randn(out.shape, generator=GRADS, dtype=out.dtype)
        entry["grad_" + name] = refdata.tensor(grad)
        total = total + (out * grad).sum()
    total.backward()
    entry.update({"grad_" + name: refdata.tensor(leaf.grad) for name, leaf in leaves.items()})
    return entry


def add(cases, name, entry):
    assert name not in cases, name
    cases[name] = entry


def reductions(cases):
    x = randn(3, 4, 5)
    axes_list = [[], [1], [0, 2], [-1], [-3, -1]]
    for name in ("sum", "mean"):
        fn = getattr(torch, name)
        for a in axes_list:
            for k in (False, True):
                entry = {"x": refdata.tensor(x), "axes": a, "keepdim": k,
                         "out": refdata.tensor(fn(x, dim=a or [0, 1, 2], keepdim=k))}
                with_grads(entry, lambda x: fn(x, dim=a or [0, 1, 2], keepdim=k), {"x": x})
                add(cases, f"{name}/" + named(axes_name(a), "keepdim" * k), entry)
    for dtype, suffix in ((torch.float32, "f32"), (torch.float64, "f64")):
        xv = randn(3, 4, 5, dtype=dtype) * 3 + 1
        for a in axes_list:
            for correction in (0, 1):
                for k in (False, True):
                    dims = a if a else list(range(xv.dim()))
                    out = torch.var(xv, dim=dims, unbiased=correction == 1, keepdim=k)
                    name = named(suffix, axes_name(a), f"correction{correction}", "keepdim" * k)
                    entry = {"x": refdata.tensor(xv), "axes": a, "correction": correction,
                             "keepdim": k, "out": refdata.tensor(out)}
                    with_grads(entry, lambda x: torch.var(x, dim=dims, unbiased=correction == 1,
                                                          keepdim=k), {"x": xv})
                    add(cases, "var/" + name, entry)

    # Ties everywhere: the first index wins, and the gradient goes to it alone.
    xt = with_ties(4, 5, 3)
    for name in ("max", "min"):
        for axis in (0, 1, -1):
            for k in (False, True):
                values, indices = getattr(torch, name)(xt, dim=axis, keepdim=k)
                w = randn(*values.shape)
                grad = grad_of(lambda v: getattr(torch, name)(v, dim=axis, keepdim=k).values,
                               xt, w)
                arg = getattr(torch, "arg" + name)(xt, dim=axis, keepdim=k)
                add(cases, f"{name}/" + named(f"axis{axis}", "keepdim" * k),
                    {"x": refdata.tensor(xt), "axis": axis, "keepdim": k,
                     "values": refdata.tensor(values), "indices": refdata.tensor(indices),
                     "arg": refdata.tensor(arg), "grad_values": refdata.tensor(w),
                     "grad_x": refdata.tensor(grad)})

    # max()/min() over all elements split the gradient evenly among ties.
    for name in ("max", "min"):
        xa = with_ties(3, 4)
        out = getattr(torch, name)(xa)
        grad_out = torch.tensor(1.5)
        grad = grad_of(lambda v: getattr(torch, name)(v), xa, grad_out)
        add(cases, f"{name}_all", {"x": refdata.tensor(xa), "out": refdata.tensor(out),
                                   "grad_out": refdata.tensor(grad_out),
                                   "grad_x": refdata.tensor(grad)})


def indexing(cases):
    x = randn(4, 3)
    for axis, index in ((0, [3, 0, 3, 1]), (1, [2, 2, 0]), (-1, [1])):
        index = torch.tensor(index)
        out = torch.index_select(x, axis, index)
        w = randn(*out.shape)
        grad = grad_of(lambda v: torch.index_select(v, axis, index), x, w)
        add(cases, "index_select/" + named(f"axis{axis}"),
            {"x": refdata.tensor(x), "axis": axis, "index": refdata.tensor(index),
             "out": refdata.tensor(out), "grad_out": refdata.tensor(w),
             "grad_x": refdata.tensor(grad)})

    xg = randn(3, 4)
    for axis, index in ((1, torch.randint(0, 4, (2, 3))), (0, torch.randint(0, 3, (2, 4))),
                        (-1, torch.randint(0, 4, (3, 6)))):
        out = torch.gather(xg, axis, index)
        w = randn(*out.shape)
        grad = grad_of(lambda v: torch.gather(v, axis, index), xg, w)
        add(cases, "gather/" + named(f"axis{axis}"),
            {"x": refdata.tensor(xg), "axis": axis, "index": refdata.tensor(index),
             "out": refdata.tensor(out), "grad_out": refdata.tensor(w),
             "grad_x": refdata.tensor(grad)})

    labels = torch.randint(0, 5, (2, 3))
    add(cases, "one_hot", {"labels": refdata.tensor(labels), "num_classes": 5,
                           "out": refdata.tensor(torch.nn.functional.one_hot(labels, 5)
                                                 .to(torch.float32))})


def joined(tensors, **entry):
    """A case of a join: its tensors as the inputs "a", "b", "c"."""
    entry.update({name: refdata.tensor(t) for name, t in zip("abc", tensors)})
    return entry


def joining(cases):
    a, b, c = randn(2, 3), randn(2, 1), randn(2, 2)
    d = randn(1, 3)
    for tensors, axis in (([a, b, c], 1), ([a, d], 0), ([c, a], -1)):
        entry = joined(tensors, axis=axis, out=refdata.tensor(torch.cat(tensors, axis)))
        with_grads(entry, lambda **t: torch.cat(list(t.values()), axis),
                   dict(zip("abc", tensors)))
        add(cases, "concat/" + named(f"axis{axis}"), entry)
    s = [randn(2, 3) for _ in range(3)]
    for axis in (0, 1, 2, -1, -3):
        entry = joined(s, axis=axis, out=refdata.tensor(torch.stack(s, axis)))
        with_grads(entry, lambda **t: torch.stack(list(t.values()), axis), dict(zip("abc", s)))
        add(cases, "stack/" + named(f"axis{axis}"), entry)
    x = randn(5, 4)
    for size, axis in ((2, 0), (3, -1), ([1, 0, 3], 1)):
        entry = {"x": refdata.tensor(x), "axis": axis}
        if isinstance(size, list):
            name = named("sizes", *size, f"axis{axis}")
            entry["sizes"] = size
        else:
            name = named(f"size{size}", f"axis{axis}")
            entry["split_size"] = size
        parts = torch.split(x, size, axis)
        for i, part in enumerate(parts):
            entry[f"part{i}"] = refdata.tensor(part)
        with_grads(entry, lambda x: torch.split(x, size, axis), {"x": x},
                   [f"part{i}" for i in range(len(parts))])
        add(cases, "split/" + name, entry)


def views(cases):
    x = randn(2, 3, 4)
    specs = [
        ("permute/2_0_1", {"dims": [2, 0, 1]}, lambda x: x.permute(2, 0, 1)),
        ("transpose/0_2", {"axis0": 0, "axis1": 2}, lambda x: x.transpose(0, 2)),
        ("reshape/4_m1", {"shape": [4, -1]}, lambda x: x.reshape(4, -1)),
        # Not viewable: reshape copies.
        ("reshape/transposed_m1_6", {"transpose": [1, 2], "shape": [-1, 6]},
         lambda x: x.transpose(1, 2).reshape(-1, 6)),
        ("flatten/1_2", {"start": 1, "end": 2}, lambda x: x.flatten(1, 2)),
        ("slice/2_1_4_2", {"axis": 2, "start": 1, "end": 4, "step": 2},
         lambda x: x[:, :, 1:4:2]),
        ("slice/1_m2_3", {"axis": 1, "start": -2, "end": 3, "step": 1}, lambda x: x[:, -2:]),
        ("select/1_m1", {"axis": 1, "index": -1}, lambda x: x.select(1, -1)),
        # x[:, :1] expanded (a view of a view: its axis of size 1 has a stride).
        ("expand/3_2_3_4", {"slice": [1, 0, 1], "shape": [3, 2, 3, 4]},
         lambda x: x[:, :1].expand(3, 2, 3, 4)),
    ]
    for name, args, fn in specs:
        entry = dict(args, x=refdata.tensor(x), out=refdata.tensor(fn(x)))
        add(cases, name, with_grads(entry, fn, {"x": x}))


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
