#!/usr/bin/python3
"""Reference values for the variational autoencoder's KL term, from PyTorch 1.13 (Debian's
python3-torch): gaussian_kl_divergence(mean, log_var) against torch.distributions.kl_divergence of
Normal(mean, exp(0.5 * log_var)) from Normal(0, 1), summed over the last axis, then reduced.

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_variational.py
Writes tests/reference/data/variational.json. Deterministic (fixed seed), f32.

Cases: kl/<name> with inputs mean, log_var, "options": {"reduction": ...}, "out", "grad_out" and
the gradients grad_mean, grad_log_var.
"""

import torch
from torch.distributions import Normal, kl_divergence

import refdata

torch.manual_seed(0)


def kl(mean, log_var, reduction):
    q = Normal(mean, torch.exp(0.5 * log_var))
    p = Normal(torch.zeros_like(mean), torch.ones_like(mean))
    per_sample = kl_divergence(q, p).sum(-1)
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


cases = {}
for name, shape, reduction in [("none", (5, 4), "none"), ("mean", (6, 3), "mean"),
                               ("sum", (4, 7), "sum"), ("3d_none", (2, 3, 5), "none"),
                               ("vector", (6,), "none")]:
    mean = (torch.randn(*shape) * 1.5).requires_grad_()
    log_var = (torch.randn(*shape) * 1.2).requires_grad_()
    out = kl(mean, log_var, reduction)
    grad_out = torch.randn(out.shape)
    out.backward(grad_out)
    cases["kl/" + name] = {
        "mean": refdata.tensor(mean), "log_var": refdata.tensor(log_var),
        "options": {"reduction": reduction},
        "out": refdata.tensor(out), "grad_out": refdata.tensor(grad_out),
        "grad_mean": refdata.tensor(mean.grad), "grad_log_var": refdata.tensor(log_var.grad)}

refdata.write("variational", cases)
