#!/usr/bin/python3
"""Reference values for the distance ops of metric learning, from PyTorch 1.13 (Debian's
python3-torch): F.pairwise_distance, F.cosine_similarity, F.normalize, torch.cdist (p = 2) and
F.triplet_margin_loss, with their input gradients for a random upstream gradient.

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_distance.py
Writes tests/reference/data/distance.json. Deterministic (fixed seed), f32.

Cases (the layout tests/support/op_test.hpp replays): <op>/<name> with the inputs, "options",
"out", "grad_out" and grad_<input> for each input.
"""

import torch
import torch.nn.functional as F

import refdata

torch.manual_seed(0)

cases = {}


def case(name, inputs, fn, options):
    leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    out = fn(**leaves)
    grad_out = torch.randn(out.shape)
    out.backward(grad_out)
    entry = {k: refdata.tensor(v) for k, v in leaves.items()}
    entry["options"] = options
    entry["out"] = refdata.tensor(out)
    entry["grad_out"] = refdata.tensor(grad_out)
    for k, v in leaves.items():
        entry["grad_" + k] = refdata.tensor(v.grad)
    cases[name] = entry


for name, s1, s2, p, keepdim in [("p2", (5, 4), (5, 4), 2.0, False),
                                 ("p1", (5, 4), (5, 4), 1.0, False),
                                 ("p3", (4, 6), (4, 6), 3.0, False),
                                 ("broadcast", (5, 4), (1, 4), 2.0, False),
                                 ("keepdim", (3, 2, 5), (3, 2, 5), 2.0, True)]:
    case("pairwise_distance/" + name, {"x1": torch.randn(*s1), "x2": torch.randn(*s2)},
         lambda x1, x2, p=p, keepdim=keepdim: F.pairwise_distance(x1, x2, p=p, keepdim=keepdim),
         {"p": p, "keepdim": keepdim})

for name, s1, s2, dim in [("dim1", (5, 4), (5, 4), 1), ("dim0", (6, 3), (6, 3), 0),
                          ("broadcast", (3, 1, 4), (1, 5, 4), -1)]:
    case("cosine_similarity/" + name, {"x1": torch.randn(*s1), "x2": torch.randn(*s2)},
         lambda x1, x2, dim=dim: F.cosine_similarity(x1, x2, dim=dim), {"axis": dim})

for name, shape, p, dim in [("p2", (4, 6), 2.0, 1), ("p1_dim0", (5, 3), 1.0, 0),
                            ("3d_last", (2, 3, 4), 2.0, -1)]:
    case("normalize/" + name, {"x": torch.randn(*shape)},
         lambda x, p=p, dim=dim: F.normalize(x, p=p, dim=dim), {"p": p, "axis": dim})

for name, s1, s2 in [("2d", (5, 3), (4, 3)), ("batched", (2, 5, 3), (2, 4, 3))]:
    case("cdist/" + name, {"x1": torch.randn(*s1), "x2": torch.randn(*s2)},
         lambda x1, x2: torch.cdist(x1, x2), {})

for name, margin, p, swap, reduction in [("mean", 1.0, 2.0, False, "mean"),
                                         ("sum", 1.0, 2.0, False, "sum"),
                                         ("none", 0.5, 2.0, False, "none"),
                                         ("swap", 1.0, 2.0, True, "mean"),
                                         ("p1", 2.0, 1.0, False, "none")]:
    case("triplet_margin_loss/" + name,
         {"anchor": torch.randn(6, 4), "positive": torch.randn(6, 4),
          "negative": torch.randn(6, 4)},
         lambda anchor, positive, negative, margin=margin, p=p, swap=swap, reduction=reduction:
         F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=p, swap=swap,
                               reduction=reduction),
         {"margin": margin, "p": p, "swap": swap, "reduction": reduction})

refdata.write("distance", cases)
