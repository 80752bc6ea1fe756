#!/usr/bin/python3
"""Reference values for pooling, padding and interpolation, from PyTorch 1.13.

Run by hand (Debian's python3-torch): /usr/bin/python3 tests/reference/gen_pool.py
Writes tests/reference/data/pool.json. Deterministic: fixed seeds. The C++ tests read their
inputs from the same file, so both sides compute on identical numbers.

Each case, named "<op>/<arguments>" (the layout tests/support/op_test.hpp replays): the input "x",
the op's arguments (kernel, stride, padding, ceil_mode, count_include_pad, output_size, pads,
mode, value, size, scale_factor, align_corners), "out", the upstream gradient "grad_out" and the
input gradient "grad_x" = d(sum(out * grad_out))/dx. Inputs and upstream gradients are exact; out
and grad_x are rounded to 8 significant digits, far within the tests' tolerance. The max-pooling
cases with ties on purpose are named "max_pool2d_ties/...".
"""

import torch
import torch.nn.functional as F

import refdata


def randn(*shape):
    """Normal values rounded to two decimals: short in the file, exact in f32 on both sides."""
    return torch.round(torch.randn(*shape, dtype=torch.float32) * 100) / 100


def upstream(*shape):
    """An upstream gradient of quarters, exact in f32 and short in the file."""
    return torch.randint(-8, 9, shape).to(torch.float32) / 4


def with_ties(*shape):
    """Small integers as floats, so that maxima repeat inside windows."""
    return torch.randint(0, 3, shape).to(torch.float32)


def case(fn, x, **args):
    """Output and input gradient of fn(x) for a random upstream gradient."""
    x = x.detach().clone().requires_grad_(True)
    out = fn(x)
    grad_out = upstream(*out.shape)
    (out * grad_out).sum().backward()
    return dict(args, x=refdata.tensor(x), out=refdata.tensor(out, digits=8),
                grad_out=refdata.tensor(grad_out), grad_x=refdata.tensor(x.grad, digits=8))


def dims(prefix, values):
    """A name part: "k3" for [3], "k2x3" for [2, 3], "" for [] (PyTorch's default)."""
    return prefix + "x".join(str(v) for v in values) if values else ""


def named(*parts):
    """The parts of a case name that are not empty, joined by "_"; "-1" is written "m1"."""
    return "_".join(str(p).replace("-", "m") for p in parts if p != "")


def add(cases, name, entry):
    assert name not in cases, name
    cases[name] = entry


def max_pool_cases(cases):
    specs = [
        # shape, kernel, stride, padding, ceil_mode
        ((1, 2, 7, 9), [3], [2], [1], False),
        ((1, 2, 7, 9), [2, 3], [1, 2], [1, 0], True),
        ((1, 2, 6, 6), [2], [], [], False),       # the 2x2 fast path
        ((1, 2, 5, 7), [2], [2], [0], True),      # 2x2 with partial last windows
        ((1, 2, 6, 5), [3, 2], [3, 1], [1, 1], True),
        ((1, 1, 4, 4), [5], [2], [0], True),      # kernel over the input, allowed by ceil_mode
    ]
    for shape, kernel, stride, padding, ceil in specs:
        name = named(dims("k", kernel), dims("s", stride), dims("p", padding), "ceil" * ceil)
        add(cases, "max_pool2d/" + name,
            case(lambda v: F.max_pool2d(v, kernel, stride or None, padding or 0, ceil_mode=ceil),
                 randn(*shape), kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil))
    # Ties inside overlapping windows: the first maximum takes the gradient.
    for shape, kernel, stride in (((1, 2, 6, 7), [3], [1]), ((1, 2, 6, 6), [2], [2])):
        add(cases, "max_pool2d_ties/" + named(dims("k", kernel), dims("s", stride)),
            case(lambda v: F.max_pool2d(v, kernel, stride), with_ties(*shape),
                 kernel=kernel, stride=stride, padding=[], ceil_mode=False))


def avg_pool_cases(cases):
    specs = [
        ((1, 2, 7, 9), [3], [2], [1], False),
        ((1, 2, 6, 6), [3], [2], [1], True),     # last window runs past the padded input
        ((1, 2, 7, 8), [3, 2], [2, 3], [1, 1], True),
        ((1, 2, 6, 6), [2], [], [], False),
        ((1, 2, 5, 5), [4], [3], [2], True),
    ]
    for shape, kernel, stride, padding, ceil in specs:
        x = randn(*shape)
        for include in (True, False):
            name = named(dims("k", kernel), dims("s", stride), dims("p", padding),
                         "ceil" * ceil, "" if include else "exclude_pad")
            add(cases, "avg_pool2d/" + name,
                case(lambda v: F.avg_pool2d(v, kernel, stride or None, padding or 0,
                                            ceil_mode=ceil, count_include_pad=include),
                     x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil,
                     count_include_pad=include))


def adaptive_cases(cases):
    x = randn(1, 2, 6, 9)
    for size in ([3, 4], [1, 1], [10, 12], [5, 2], [4]):
        add(cases, "adaptive_avg_pool2d/" + dims("", size),
            case(lambda v: F.adaptive_avg_pool2d(v, size if len(size) == 2 else size[0]), x,
                 output_size=size))


def pad_cases(cases):
    specs = [
        ((1, 2, 4, 5), [1, 2, 0, 3], "constant", 0.5),
        ((1, 2, 4, 5), [-1, 2, 1, -2], "constant", 0.0),
        ((1, 2, 4, 5), [1, 1, 2, 0, 1, 0], "constant", -1.0),
        ((1, 2, 4, 5), [2, 0], "constant", 0.0),
        ((1, 2, 5, 6), [2, 1, 3, 2], "reflect", 0.0),
        ((1, 2, 5, 6), [-1, 3, 2, -1], "reflect", 0.0),
        ((1, 2, 7), [2, 3], "reflect", 0.0),
        ((1, 2, 4, 5), [2, 3, 1, 0], "replicate", 0.0),
        ((1, 2, 4, 5), [-2, 3, 2, -1], "replicate", 0.0),
        ((1, 2, 6), [4, 1], "replicate", 0.0),
    ]
    for shape, pads, mode, value in specs:
        add(cases, "pad/" + named(mode, *pads),
            case(lambda v: F.pad(v, pads, mode=mode, value=value), randn(*shape), pads=pads,
                 mode=mode, value=value))


def interpolate_cases(cases):
    x2 = randn(1, 1, 5, 7)
    x1 = randn(1, 2, 6)
    for x, linear, sizes in ((x2, "bilinear", ([8, 3], [10, 14], [3, 4])),
                             (x1, "linear", ([13], [4], [1]))):
        for size in sizes:
            add(cases, "interpolate/" + named("nearest", dims("", size)),
                case(lambda v: F.interpolate(v, size=size, mode="nearest"), x,
                     size=size, mode="nearest", align_corners=False))
            for align in (False, True):
                add(cases,
                    "interpolate/" + named(linear, dims("", size), "align_corners" * align),
                    case(lambda v: F.interpolate(v, size=size, mode=linear, align_corners=align),
                         x, size=size, mode=linear, align_corners=align))


def upsample_cases(cases):
    x2 = randn(1, 1, 5, 7)
    x1 = randn(1, 2, 6)
    for x, linear, factors in ((x2, "bilinear", (1.7, 2.0, 0.6)), (x1, "linear", (1.7, 0.6))):
        axes = "2d" if linear == "bilinear" else "1d"
        for factor in factors:
            add(cases, "upsample/" + named("nearest", axes, f"x{factor}"),
                case(lambda v: F.interpolate(v, scale_factor=factor, mode="nearest"), x,
                     scale_factor=factor, mode="nearest", align_corners=False))
            for align in (False, True):
                add(cases, "upsample/" + named(linear, f"x{factor}", "align_corners" * align),
                    case(lambda v: F.interpolate(v, scale_factor=factor, mode=linear,
                                                 align_corners=align),
                         x, scale_factor=factor, mode=linear, align_corners=align))


def main():
    torch.manual_seed(0)
    cases = {}
    max_pool_cases(cases)
    avg_pool_cases(cases)
    adaptive_cases(cases)
    pad_cases(cases)
    interpolate_cases(cases)
    upsample_cases(cases)
    refdata.write("pool", cases)


if __name__ == "__main__":
    main()
