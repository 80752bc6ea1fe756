#!/usr/bin/python3
"""Reference values for matmul, linear and the losses, from PyTorch 1.13 (Debian's python3-torch).

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_matmul_loss.py
Writes tests/reference/data/matmul_loss.json. Deterministic (fixed seed); all tensors f32 except
labels (i64). The C++ tests read their inputs from the same file.

Cases (each has its inputs, "out", the gradient fed to backward "grad_out", and the gradient of
every differentiable input, named "grad_<input>"):
  matmul/<name>  a, b
  linear/<name>  x, weight, bias (optional)
  linear_relu/<name>  the same inputs, relu(linear)
  loss/<name>    "op" (the loss), input, target or labels, and "options": reduction, delta,
                 weight, ignore_index, label_smoothing, pos_weight (those the case sets)
"""

import torch
import torch.nn.functional as F

import refdata

torch.manual_seed(0)


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_()


def run(fn, inputs):
    """Calls fn(**inputs), backpropagates a random gradient, and returns the case's tensors."""
    out = fn(**inputs)
    grad_out = torch.randn(out.shape)
    out.backward(grad_out)
    case = {name: refdata.tensor(t) for name, t in inputs.items() if isinstance(t, torch.Tensor)}
    case["out"] = refdata.tensor(out)
    case["grad_out"] = refdata.tensor(grad_out)
    for name, t in inputs.items():
        if isinstance(t, torch.Tensor) and t.requires_grad:
            case["grad_" + name] = refdata.tensor(t.grad)
    return case


cases = {}

MATMUL = {
    "mm": ((5, 7), (7, 4)),
    "dot": ((6,), (6,)),
    "vector_matrix": ((7,), (7, 3)),
    "matrix_vector": ((4, 7), (7,)),
    "bmm": ((3, 4, 5), (3, 5, 2)),
    "broadcast_batch": ((2, 1, 4, 5), (3, 5, 6)),
    "batched_matrix": ((3, 4, 5), (5, 6)),
    "matrix_batched": ((4, 5), (3, 5, 6)),
    "batched_vector": ((2, 3, 5), (5,)),
    "vector_batched": ((5,), (2, 5, 3)),
    "batch_one": ((1, 4, 5), (3, 5, 2)),
}
for name, (sa, sb) in MATMUL.items():
    cases["matmul/" + name] = run(lambda a, b: torch.matmul(a, b), {"a": leaf(*sa), "b": leaf(*sb)})

LINEAR = {
    "bias": ((6, 8), True),
    "no_bias_3d": ((2, 3, 8), False),
    "vector_input": ((8,), True),
}
for name, (sx, with_bias) in LINEAR.items():
    inputs = {"x": leaf(*sx), "weight": leaf(5, 8)}
    if with_bias:
        inputs["bias"] = leaf(5)
    cases["linear/" + name] = run(lambda x, weight, bias=None: F.linear(x, weight, bias), inputs)


def pointwise(op, fn, options, shape=(4, 3), scale=1.0, target=None):
    inputs = {"input": leaf(*shape, scale=scale),
              "target": target if target is not None else leaf(*shape, scale=scale)}
    case = run(lambda input, target: fn(input, target, **options), inputs)
    case["op"] = op
    case["options"] = {k: (refdata.tensor(v) if isinstance(v, torch.Tensor) else v) for k, v in options.items()}
    return case


for reduction in ["mean", "sum", "none"]:
    cases["loss/mse_" + reduction] = pointwise("mse_loss", F.mse_loss, {"reduction": reduction})
    cases["loss/l1_" + reduction] = pointwise("l1_loss", F.l1_loss, {"reduction": reduction})
for delta, reduction in [(1.0, "mean"), (0.5, "sum"), (2.0, "none")]:
    cases[f"loss/huber_{reduction}"] = pointwise(
        "huber_loss", F.huber_loss, {"delta": delta, "reduction": reduction}, scale=2.0)
for name, reduction, with_pos_weight in [("bce_mean", "mean", False), ("bce_sum", "sum", False),
                                         ("bce_pos_weight_mean", "mean", True),
                                         ("bce_pos_weight_none", "none", True)]:
    options = {"reduction": reduction}
    if with_pos_weight:
        options["pos_weight"] = torch.rand(3) * 2 + 0.25
    cases["loss/" + name] = pointwise("binary_cross_entropy_with_logits",
                                      F.binary_cross_entropy_with_logits, options, scale=3.0,
                                      target=torch.rand(4, 3).requires_grad_())


def class_case(op, shape, labels, options):
    inputs = {"input": leaf(*shape, scale=2.0)}
    if op == "nll_loss":  # log-probabilities as nll_loss expects them
        inputs["input"] = torch.log_softmax(inputs["input"].detach(), dim=1).requires_grad_()
    fn = F.cross_entropy if op == "cross_entropy" else F.nll_loss
    case = run(lambda input: fn(input, labels, **options), inputs)
    case["op"] = op
    case["labels"] = refdata.tensor(labels)
    case["options"] = {k: (refdata.tensor(v) if isinstance(v, torch.Tensor) else v) for k, v in options.items()}
    return case


N, C = 6, 5
labels = torch.tensor([0, 3, 4, 1, 3, 2])
labels_ignored = torch.tensor([0, -100, 4, 1, -100, 2])
weight = torch.rand(C) + 0.5
CLASS = {
    "ce_mean": ("cross_entropy", (N, C), labels, {}),
    "ce_sum": ("cross_entropy", (N, C), labels, {"reduction": "sum"}),
    "ce_none": ("cross_entropy", (N, C), labels, {"reduction": "none"}),
    "ce_weight_mean": ("cross_entropy", (N, C), labels, {"weight": weight}),
    "ce_weight_sum": ("cross_entropy", (N, C), labels, {"weight": weight, "reduction": "sum"}),
    "ce_ignore_mean": ("cross_entropy", (N, C), labels_ignored, {}),
    "ce_ignore_index_3": ("cross_entropy", (N, C), labels, {"ignore_index": 3}),
    "ce_smoothing_mean": ("cross_entropy", (N, C), labels, {"label_smoothing": 0.1}),
    "ce_all_options_mean": ("cross_entropy", (N, C), labels_ignored,
                            {"weight": weight, "label_smoothing": 0.2}),
    "ce_all_options_none": ("cross_entropy", (N, C), labels_ignored,
                            {"weight": weight, "label_smoothing": 0.2, "reduction": "none"}),
    "ce_spatial": ("cross_entropy", (3, C, 2, 2), torch.tensor([[[0, 4], [2, -100]],
                                                                [[1, 1], [3, 0]],
                                                                [[-100, 2], [4, 4]]]),
                   {"weight": weight, "label_smoothing": 0.1}),
    "ce_spatial_none": ("cross_entropy", (2, C, 3), torch.tensor([[0, 4, 2], [1, 3, 3]]),
                        {"reduction": "none"}),
    "ce_unbatched": ("cross_entropy", (C,), torch.tensor(3), {"label_smoothing": 0.1}),
    "nll_mean": ("nll_loss", (N, C), labels, {}),
    "nll_weight_ignore_mean": ("nll_loss", (N, C), labels_ignored, {"weight": weight}),
    "nll_sum": ("nll_loss", (N, C), labels, {"reduction": "sum"}),
    "nll_none": ("nll_loss", (N, C), labels_ignored, {"weight": weight, "reduction": "none"}),
    "nll_spatial": ("nll_loss", (2, C, 3), torch.tensor([[0, 4, 2], [1, 3, 3]]), {"weight": weight}),
}
for name, (op, shape, lab, options) in CLASS.items():
    cases["loss/" + name] = class_case(op, shape, lab, options)

# Drawn last, so that the cases above keep their values.
for name, (sx, with_bias) in {"bias": ((6, 8), True), "no_bias_3d": ((2, 3, 8), False)}.items():
    inputs = {"x": leaf(*sx), "weight": leaf(5, 8)}
    if with_bias:
        inputs["bias"] = leaf(5)
    cases["linear_relu/" + name] = run(
        lambda x, weight, bias=None: torch.relu(F.linear(x, weight, bias)), inputs)

refdata.write("matmul_loss", cases)
