#!/usr/bin/python3
"""Reference values for batch_norm, layer_norm and group_norm, from PyTorch 1.13 (Debian's
python3-torch).

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_norm.py
Writes tests/reference/data/norm.json. Deterministic (fixed seed); tensors are f32 unless the case
says "f64". The C++ tests read their inputs from the same file.

Each case has "op" ("batch_norm", "layer_norm" or "group_norm"), "options" (training, momentum,
eps, normalized_shape, num_groups: those the op takes), its inputs x and, when used, weight,
bias, running_mean, running_var (the values before the call), then "out", the gradient fed to
backward "grad_out", "grad_x", "grad_weight", "grad_bias" (for the inputs given), and for
batch_norm with running statistics "running_mean_after" and "running_var_after".
"""

import torch
import torch.nn.functional as F

import refdata

torch.manual_seed(0)


def make(shape, dtype, scale=1.0, offset=0.0):
    return torch.randn(*shape, dtype=torch.float64).mul(scale).add(offset).to(dtype)


def case(op, options, x, weight=None, bias=None, running_mean=None, running_var=None):
    dtype = x.dtype
    c = {"op": op, "options": options, "x": refdata.tensor(x)}
    x = x.clone().requires_grad_()
    params = {}
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            c[name] = refdata.tensor(t)
            params[name] = t.clone().requires_grad_()
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            c[name] = refdata.tensor(t)
    w, b = params.get("weight"), params.get("bias")
    if op == "batch_norm":
        rm = None if running_mean is None else running_mean.clone()
        rv = None if running_var is None else running_var.clone()
        out = F.batch_norm(x, rm, rv, w, b, training=options["training"],
                           momentum=options["momentum"], eps=options["eps"])
        if rm is not None:
            c["running_mean_after"] = refdata.tensor(rm)
        if rv is not None:
            c["running_var_after"] = refdata.tensor(rv)
    elif op == "layer_norm":
        out = F.layer_norm(x, options["normalized_shape"], w, b, eps=options["eps"])
    else:
        out = F.group_norm(x, options["num_groups"], w, b, eps=options["eps"])
    grad_out = torch.randn(out.shape, dtype=torch.float64).to(dtype)
    out.backward(grad_out)
    c["out"] = refdata.tensor(out)
    c["grad_out"] = refdata.tensor(grad_out)
    c["grad_x"] = refdata.tensor(x.grad)
    for name, t in params.items():
        c["grad_" + name] = refdata.tensor(t.grad)
    return c


def bn(name, shape, training, affine=True, running=True, momentum=0.1, eps=1e-5, offset=0.0,
       dtype=torch.float32):
    ch = shape[1]
    x = make(shape, dtype, scale=1.5, offset=offset)
    weight = make((ch,), dtype, offset=1.0) if affine else None
    bias = make((ch,), dtype) if affine else None
    rm = make((ch,), dtype) if running else None
    rv = make((ch,), dtype).abs().add(0.5) if running else None
    options = {"training": training, "momentum": momentum, "eps": eps}
    cases["batch_norm/" + name] = case("batch_norm", options, x, weight, bias, rm, rv)


def ln(name, shape, normalized_shape, weight=True, bias=True, eps=1e-5, offset=0.0):
    x = make(shape, torch.float32, scale=2.0, offset=offset)
    w = make(normalized_shape, torch.float32, offset=1.0) if weight else None
    b = make(normalized_shape, torch.float32) if bias else None
    options = {"normalized_shape": list(normalized_shape), "eps": eps}
    cases["layer_norm/" + name] = case("layer_norm", options, x, w, b)


def gn(name, shape, groups, affine=True, eps=1e-5, offset=0.0):
    ch = shape[1]
    x = make(shape, torch.float32, scale=2.0, offset=offset)
    w = make((ch,), torch.float32, offset=1.0) if affine else None
    b = make((ch,), torch.float32) if affine else None
    options = {"num_groups": groups, "eps": eps}
    cases["group_norm/" + name] = case("group_norm", options, x, w, b)


cases = {}
bn("train_2d", (6, 4), True)
bn("train_4d", (2, 4, 3, 5), True, momentum=0.3)
bn("train_3d_no_affine", (4, 3, 7), True, affine=False)
bn("train_no_running", (5, 3, 2, 2), True, running=False)
bn("train_offset_mean", (3, 2, 4, 4), True, offset=50.0, eps=1e-3)
bn("train_4d_f64", (2, 3, 3, 4), True, momentum=0.2, dtype=torch.float64)
bn("eval_4d", (2, 3, 4, 4), False)
bn("eval_2d_no_affine", (5, 4), False, affine=False)
ln("last_axis", (4, 10), (10,))
ln("two_axes_weight_only", (2, 3, 4, 5), (4, 5), bias=False)
ln("no_affine", (3, 7), (7,), weight=False, bias=False)
ln("offset_mean", (3, 16), (16,), offset=30.0, eps=1e-3)
gn("4d", (2, 6, 3, 4), 3)
gn("2d_no_affine", (3, 8), 2, affine=False)
gn("3d_one_group", (2, 4, 5), 1)
gn("instance", (2, 4, 3, 3), 4)

refdata.write("norm", cases)
