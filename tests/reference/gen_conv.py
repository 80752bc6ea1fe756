#!/usr/bin/python3
"""Reference values for conv1d, conv2d and conv_transpose2d, from PyTorch 1.13 (Debian's
python3-torch).

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_conv.py
Writes tests/reference/data/conv.json. Deterministic (fixed seed).

Each case "<op>/<name>" holds "op", "options" (nabla's ConvOptions / ConvTransposeOptions fields:
stride, padding, dilation, groups, padding_mode, output_padding -- those the case sets), the f32
inputs x, weight and (optional) bias, the upstream gradient grad_out, and the f32 results out,
grad_x, grad_weight, grad_bias. "f64" (in the cases marked f64=True, one or more per op) holds the same results computed in float64 from the same
inputs (f32 values are exact in f64), for a tight comparison of nabla's f64 path.

Keras's padding_mode "same" has no PyTorch counterpart for stride > 1 (and pads the odd zero
after): its reference is F.pad with TensorFlow's split, then a convolution without padding.
"""
import math

import torch
import torch.nn.functional as F

import refdata

torch.manual_seed(0)


def t2j(t):
    """f64 results to 15 significant digits: far tighter than any comparison, a third shorter."""
    return refdata.tensor(t, digits=15 if t.dtype == torch.float64 else None)


def same_pads(in_sizes, kernel, stride, dilation):
    """TensorFlow's "same": F.pad's list (last axis first), the odd zero after."""
    pads = []
    for size, k, s, d in reversed(list(zip(in_sizes, kernel, stride, dilation))):
        out = math.ceil(size / s)
        total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return pads


def per_axis(options, name, axes, default):
    value = options.get(name, [default])
    return value * axes if len(value) == 1 else value


def torch_op(op, options, axes):
    stride = per_axis(options, "stride", axes, 1)
    dilation = per_axis(options, "dilation", axes, 1)
    groups = options.get("groups", 1)
    if op == "conv_transpose2d":
        return lambda x, w, b: F.conv_transpose2d(
            x, w, b, stride=stride, padding=per_axis(options, "padding", axes, 0),
            output_padding=per_axis(options, "output_padding", axes, 0), groups=groups,
            dilation=dilation)
    conv = F.conv1d if op == "conv1d" else F.conv2d
    mode = options.get("padding_mode", "")
    if mode == "same":
        def same(x, w, b):
            pads = same_pads(x.shape[2:], w.shape[2:], stride, dilation)
            return conv(F.pad(x, pads), w, b, stride=stride, dilation=dilation, groups=groups)
        return same
    padding = [0] * axes if mode == "valid" else per_axis(options, "padding", axes, 0)
    return lambda x, w, b: conv(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                groups=groups)


def run(fn, inputs, grad_out):
    leaves = {k: (v.clone().requires_grad_() if v is not None else None) for k, v in inputs.items()}
    out = fn(leaves["x"], leaves["weight"], leaves["bias"])
    out.backward(grad_out)
    result = {"out": t2j(out)}
    for name, t in leaves.items():
        if t is not None:
            result["grad_" + name] = t2j(t.grad)
    return result


def case(op, x_shape, w_shape, bias=True, f64=False, **options):
    axes = len(x_shape) - 2
    fn = torch_op(op, options, axes)
    inputs = {"x": torch.randn(*x_shape), "weight": torch.randn(*w_shape) * 0.5,
              "bias": torch.randn(w_shape[1] * options.get("groups", 1) if op == "conv_transpose2d"
                                  else w_shape[0]) if bias else None}
    out_shape = fn(inputs["x"], inputs["weight"], inputs["bias"]).shape
    grad_out = torch.randn(out_shape)
    entry = {"op": op, "options": options}
    entry.update({k: t2j(v) for k, v in inputs.items() if v is not None})
    entry["grad_out"] = t2j(grad_out)
    entry.update(run(fn, inputs, grad_out))
    if f64:
        doubled = {k: (v.double() if v is not None else None) for k, v in inputs.items()}
        entry["f64"] = run(fn, doubled, grad_out.double())
    return entry


cases = {
    "conv1d/padding_bias": case("conv1d", (2, 3, 9), (4, 3, 3), padding=[1]),
    "conv1d/stride_dilation_groups": case("conv1d", (2, 4, 11), (6, 2, 3), bias=False, f64=True,
                                          stride=[2], dilation=[2], groups=2),
    "conv1d/same_stride2_even_kernel": case("conv1d", (2, 2, 10), (3, 2, 4), stride=[2],
                                            padding_mode="same"),
    "conv2d/padding_bias": case("conv2d", (1, 3, 5, 4), (4, 3, 3, 3), padding=[1]),
    "conv2d/stride_per_axis": case("conv2d", (1, 2, 7, 8), (3, 2, 3, 2), stride=[2, 3],
                                   padding=[1, 0]),
    "conv2d/dilation": case("conv2d", (1, 2, 7, 7), (2, 2, 3, 3), bias=False, dilation=[2],
                            padding=[2]),
    "conv2d/groups": case("conv2d", (1, 4, 5, 5), (6, 2, 3, 3), groups=2),
    "conv2d/depthwise_stride2": case("conv2d", (2, 3, 5, 5), (6, 1, 3, 3), f64=True, groups=3,
                                     stride=[2], padding=[1]),
    "conv2d/same_stride2_even_kernel": case("conv2d", (1, 2, 7, 8), (3, 2, 4, 4), f64=True,
                                            stride=[2], padding_mode="same"),
    "conv2d/same_dilated": case("conv2d", (1, 2, 6, 6), (2, 2, 3, 3), dilation=[2],
                                padding_mode="same"),
    "conv2d/valid_pointwise": case("conv2d", (2, 4, 3, 3), (3, 4, 1, 1), padding_mode="valid"),
    "conv_transpose2d/stride2_output_padding": case("conv_transpose2d", (1, 3, 3, 4), (3, 2, 3, 3),
                                                    f64=True, stride=[2], padding=[1],
                                                    output_padding=[1]),
    "conv_transpose2d/groups": case("conv_transpose2d", (1, 4, 3, 3), (4, 3, 2, 2), groups=2,
                                    stride=[2]),
    "conv_transpose2d/dilation": case("conv_transpose2d", (1, 2, 4, 4), (2, 2, 3, 3), bias=False,
                                      dilation=[2], padding=[1]),
    # output_padding beyond the stride (allowed below the dilation): trailing rows get only bias
    "conv_transpose2d/output_padding_dilation": case("conv_transpose2d", (1, 2, 3, 3), (2, 1, 2, 2),
                                                     dilation=[2], output_padding=[1]),
}

refdata.write("conv", cases)
