#!/usr/bin/python3
"""Reference values for pooling, padding and interpolation, from PyTorch 1.13.

Run by hand (Debian's python3-torch): /usr/bin/python3 tests/reference/gen_pool.py
Writes tests/reference/data/pool.json. Deterministic: fixed seeds. Every case holds the input x,
the op's arguments, the output, a fixed upstream gradient w and the input gradient
d(sum(out * w))/dx. The C++ tests read their inputs from the same file, so both sides compute on
identical numbers. f32 values are written in their shortest round-trip form to keep the file small.
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
    w = upstream(*out.shape)
    (out * w).sum().backward()
    # inputs exact; results to 8 significant digits, far within the tests' tolerance
    return dict(args, x=refdata.tensor(x), out=refdata.tensor(out, digits=8), w=refdata.tensor(w),
                grad=refdata.tensor(x.grad, digits=8))


def max_pool_cases():
    specs = [
        # shape, kernel, stride, padding, ceil_mode
        ((1, 2, 7, 9), [3], [2], [1], False),
        ((1, 2, 7, 9), [2, 3], [1, 2], [1, 0], True),
        ((1, 2, 6, 6), [2], [], [], False),       # the 2x2 fast path
        ((1, 2, 5, 7), [2], [2], [0], True),      # 2x2 with partial last windows
        ((1, 2, 6, 5), [3, 2], [3, 1], [1, 1], True),
        ((1, 1, 4, 4), [5], [2], [0], True),      # kernel over the input, allowed by ceil_mode
    ]
    cases = []
    for shape, kernel, stride, padding, ceil in specs:
        cases.append(case(lambda v: F.max_pool2d(v, kernel, stride or None, padding or 0,
                                                 ceil_mode=ceil),
                          randn(*shape), kernel=kernel, stride=stride, padding=padding,
                          ceil_mode=ceil))
    # Ties inside overlapping windows: the first maximum takes the gradient.
    for shape, kernel, stride in (((1, 2, 6, 7), [3], [1]), ((1, 2, 6, 6), [2], [2])):
        cases.append(case(lambda v: F.max_pool2d(v, kernel, stride), with_ties(*shape),
                          kernel=kernel, stride=stride, padding=[], ceil_mode=False))
    return cases


def avg_pool_cases():
    specs = [
        ((1, 2, 7, 9), [3], [2], [1], False),
        ((1, 2, 6, 6), [3], [2], [1], True),     # last window runs past the padded input
        ((1, 2, 7, 8), [3, 2], [2, 3], [1, 1], True),
        ((1, 2, 6, 6), [2], [], [], False),
        ((1, 2, 5, 5), [4], [3], [2], True),
    ]
    cases = []
    for shape, kernel, stride, padding, ceil in specs:
        x = randn(*shape)
        for include in (True, False):
            cases.append(case(lambda v: F.avg_pool2d(v, kernel, stride or None, padding or 0,
                                                     ceil_mode=ceil, count_include_pad=include),
                              x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil,
                              count_include_pad=include))
    return cases


def adaptive_cases():
    x = randn(1, 2, 6, 9)
    return [case(lambda v: F.adaptive_avg_pool2d(v, size if len(size) == 2 else size[0]), x,
                 output_size=size)
            for size in ([3, 4], [1, 1], [10, 12], [5, 2], [4])]


def pad_cases():
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
    return [case(lambda v: F.pad(v, pads, mode=mode, value=value), randn(*shape), pads=pads,
                 mode=mode, value=value)
            for shape, pads, mode, value in specs]


def interpolate_cases():
    x2 = randn(1, 1, 5, 7)
    x1 = randn(1, 2, 6)
    cases = []
    for size in ([8, 3], [10, 14], [3, 4]):
        cases.append(case(lambda v: F.interpolate(v, size=size, mode="nearest"), x2,
                          size=size, mode="nearest", align_corners=False))
        for align in (False, True):
            cases.append(case(lambda v: F.interpolate(v, size=size, mode="bilinear",
                                                      align_corners=align),
                              x2, size=size, mode="bilinear", align_corners=align))
    for size in ([13], [4], [1]):
        cases.append(case(lambda v: F.interpolate(v, size=size, mode="nearest"), x1,
                          size=size, mode="nearest", align_corners=False))
        for align in (False, True):
            cases.append(case(lambda v: F.interpolate(v, size=size, mode="linear",
                                                      align_corners=align),
                              x1, size=size, mode="linear", align_corners=align))
    return cases


def upsample_cases():
    x2 = randn(1, 1, 5, 7)
    x1 = randn(1, 2, 6)
    cases = []
    for x, linear, factors in ((x2, "bilinear", (1.7, 2.0, 0.6)), (x1, "linear", (1.7, 0.6))):
        for factor in factors:
            cases.append(case(lambda v: F.interpolate(v, scale_factor=factor, mode="nearest"), x,
                              scale_factor=factor, mode="nearest", align_corners=False))
            for align in (False, True):
                cases.append(case(lambda v: F.interpolate(v, scale_factor=factor, mode=linear,
                                                          align_corners=align),
                                  x, scale_factor=factor, mode=linear, align_corners=align))
    return cases


def main():
    torch.manual_seed(0)
    cases = {
        "max_pool2d": max_pool_cases(),
        "avg_pool2d": avg_pool_cases(),
        "adaptive_avg_pool2d": adaptive_cases(),
        "pad": pad_cases(),
        "interpolate": interpolate_cases(),
        "upsample": upsample_cases(),
    }
    refdata.write("pool", cases)


if __name__ == "__main__":
    main()
