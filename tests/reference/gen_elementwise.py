#!/usr/bin/python3
"""Reference values for elementwise arithmetic, activations and softmax, from PyTorch 1.13.

Run by hand (Debian's python3-torch): /usr/bin/python3 tests/reference/gen_elementwise.py
Writes tests/reference/data/elementwise.json. Deterministic: fixed seeds. The C++ tests read
their inputs from the same file, so both sides compute on identical numbers.

Each case (the layout tests/support/op_test.hpp replays): the inputs "a", "b", "c" in the order the
op takes them, "out", and for differentiable ops the upstream gradient "grad_out" and the
gradient "grad_<input>" of each floating input (f32, as PyTorch computes them). Parameters
(axis, alpha, ...) are fixed by the case name on the C++ side.
"""

import torch
import torch.nn.functional as F

import refdata


def randn(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).to(torch.float32)


def positive(*shape):
    return torch.rand(*shape) * 2.9 + 0.1


def case(fn, *inputs, differentiable=True):
    """Runs fn on float inputs (bool inputs pass through) and records out, grad_out and grads."""
    names = "abc"[:len(inputs)]
    leaves = [x.detach().clone().requires_grad_(differentiable and x.is_floating_point())
              for x in inputs]
    out = fn(*leaves)
    entry = {name: refdata.tensor(x) for name, x in zip(names, inputs)}
    entry["out"] = refdata.tensor(out)
    if differentiable:
        grad_out = torch.randn(out.shape)
        differentiated = [(name, x) for name, x in zip(names, leaves) if x.requires_grad]
        grads = torch.autograd.grad((out * grad_out).sum(), [x for _, x in differentiated])
        entry["grad_out"] = refdata.tensor(grad_out)
        entry.update({"grad_" + name: refdata.tensor(g)
                      for (name, _), g in zip(differentiated, grads)})
    return entry


def unary(cases):
    mixed = randn(3, 4, scale=1.5)
    mixed[0, 0] = 0.0  # abs, relu and friends at their kink
    cases["neg"] = case(torch.neg, mixed)
    cases["exp"] = case(torch.exp, mixed)
    cases["log"] = case(torch.log, positive(3, 4))
    cases["sqrt"] = case(torch.sqrt, positive(3, 4))
    cases["rsqrt"] = case(torch.rsqrt, positive(3, 4))
    cases["abs"] = case(torch.abs, mixed)
    cases["square"] = case(torch.square, mixed)
    bounded = randn(3, 4)
    bounded[0, 1], bounded[0, 2] = -0.5, 0.5  # the bounds themselves pass the gradient
    cases["clamp"] = case(lambda x: torch.clamp(x, -0.5, 0.5), bounded)
    cases["clamp_min"] = case(lambda x: torch.clamp(x, min=0.25), bounded)
    cases["clamp_max"] = case(lambda x: torch.clamp(x, max=-0.25), bounded)


def binary(cases):
    a, b_row = randn(3, 4), randn(4)
    cases["add"] = case(torch.add, a, b_row)
    cases["add_alpha"] = case(lambda x, y: torch.add(x, y, alpha=-2.5), a, randn(3, 1))
    cases["sub"] = case(torch.sub, randn(2, 1, 4), randn(3, 1))
    cases["mul"] = case(torch.mul, a, b_row)
    cases["div"] = case(torch.div, randn(2, 3), positive(3) * torch.tensor([1.0, -1.0, 1.0]))
    cases["pow"] = case(torch.pow, positive(3, 4), randn(4))
    cases["pow_scalar"] = case(lambda x: torch.pow(x, 2.5), positive(3, 4))
    cases["pow_scalar_int"] = case(lambda x: torch.pow(x, 3.0), randn(3, 4))
    tied_a, tied_b = randn(3, 4), randn(4)
    tied_a[1, 2] = tied_b[2]  # ties split the gradient in half
    cases["maximum"] = case(torch.maximum, tied_a, tied_b)
    cases["minimum"] = case(torch.minimum, tied_a, tied_b)
    cond = torch.rand(3, 4) > 0.5
    cases["where"] = case(torch.where, cond, randn(3, 4), randn(4))
    small_a = torch.randint(0, 3, (3, 4)).to(torch.float32)
    small_b = torch.randint(0, 3, (4,)).to(torch.float32)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        cases[name] = case(getattr(torch, name), small_a, small_b, differentiable=False)


def activations(cases):
    x = randn(4, 5, scale=2.0)
    x[0, 0] = 0.0
    cases["relu"] = case(F.relu, x)
    cases["leaky_relu"] = case(F.leaky_relu, x)
    cases["leaky_relu_0.2"] = case(lambda v: F.leaky_relu(v, 0.2), x)
    cases["elu"] = case(F.elu, x)
    cases["elu_0.5"] = case(lambda v: F.elu(v, 0.5), x)
    cases["gelu"] = case(F.gelu, x)
    cases["gelu_tanh"] = case(lambda v: F.gelu(v, approximate="tanh"), x)
    wide = randn(4, 5, scale=8.0)
    wide[0, :3] = torch.tensor([-40.0, 40.0, -100.0])  # saturated ends
    cases["sigmoid"] = case(torch.sigmoid, wide)
    cases["tanh"] = case(torch.tanh, wide)
    cases["softplus"] = case(F.softplus, wide)
    cases["softplus_beta2_threshold5"] = case(lambda v: F.softplus(v, 2.0, 5.0), x)


def softmaxes(cases):
    x = randn(4, 5, scale=2.0)
    big = randn(3, 37, scale=3.0)  # a row longer than a vector, with a tail
    big[0] += 1000.0               # stability: exp would overflow without the max shift
    big[1] -= 1000.0
    middle = randn(2, 3, 13)       # a middle axis over inner columns with a vector tail
    for name, fn in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
        cases[f"{name}_axis0"] = case(lambda v: fn(v, 0), x)
        cases[f"{name}_axis-1"] = case(lambda v: fn(v, -1), x)
        cases[f"{name}_wide"] = case(lambda v: fn(v, -1), big)
        cases[f"{name}_axis1_3d"] = case(lambda v: fn(v, 1), middle)


def main():
    torch.manual_seed(0)
    cases = {}
    unary(cases)
    binary(cases)
    activations(cases)
    softmaxes(cases)
    refdata.write("elementwise", cases)


if __name__ == "__main__":
    main()
