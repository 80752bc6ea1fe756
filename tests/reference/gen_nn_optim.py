#!/usr/bin/python3
"""Reference data for tests/nn and tests/optim, from PyTorch 1.13 (Debian's python3-torch).

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_nn_optim.py
Writes tests/reference/data/nn_optim.json. Deterministic (fixed seeds).

Cases:
  optim/<name>      a starting parameter, 5 gradients, the optimizer's options, and the parameter
                    after each step (the C++ test replays the gradients with set_grad).
  scheduler/<name>  the learning rate at construction and after each of 12 scheduler steps.
  clip/<name>       gradients, the total norm returned and the clipped gradients.
  init/<name>       statistics of PyTorch's initializers on large tensors.
  module/mlp        a PyTorch Sequential's state dict, repr, an input and its output.
"""
import math

import torch

import refdata

torch.manual_seed(0)


# ---------------------------------------------------------------- optimizers

GRAD_SCALES = [1.0, 3.0, 0.5, 2.0, 0.1]  # varying magnitudes, so that AMSGrad's max matters

OPTIMIZERS = {
    "sgd_plain": ("sgd", dict(lr=0.1)),
    "sgd_momentum": ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1)),
    "sgd_nesterov": ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": ("sgd", dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    "adam": ("adam", dict(lr=0.01)),
    "adam_weight_decay": ("adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "adam_amsgrad": ("adam", dict(lr=0.01, betas=(0.8, 0.9), amsgrad=True)),
    "adamw": ("adamw", dict(lr=0.01, weight_decay=0.1)),
    "rmsprop": ("rmsprop", dict(lr=0.01)),
    "rmsprop_centered_momentum": ("rmsprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5,
                                                  weight_decay=0.01)),
    "adagrad": ("adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                initial_accumulator_value=0.1)),
}
CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}


def optim_case(kind, options, dtype):
    param = torch.randn(3, 4, dtype=dtype)
    grads = torch.stack([torch.randn(3, 4, dtype=dtype) * s for s in GRAD_SCALES])
    p = param.clone().requires_grad_()
    opt = CLASSES[kind]([p], **options)
    after = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        after.append(p.detach().clone())
    flat = dict(options)
    if "betas" in flat:
        flat["beta1"], flat["beta2"] = flat.pop("betas")
    return {"optimizer": kind, "options": flat, "param": refdata.tensor(param),
            "grads": refdata.tensor(grads), "after": refdata.tensor(torch.stack(after))}


# ---------------------------------------------------------------- schedulers

def scheduler_case(make, metrics=None):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for epoch in range(12):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[epoch])
        lrs.append(opt.param_groups[0]["lr"])
    return {"lrs": lrs, "metrics": metrics or []}


def schedulers():
    S = torch.optim.lr_scheduler
    falling = [1.0, 0.9, 0.895, 0.894, 0.893, 0.7, 0.71, 0.72, 0.73, 0.74, 0.5, 0.5]
    rising = [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    return {
        "step_lr": scheduler_case(lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
        "multistep_lr": scheduler_case(lambda o: S.MultiStepLR(o, milestones=[5, 2, 9, 5], gamma=0.3)),
        "exponential_lr": scheduler_case(lambda o: S.ExponentialLR(o, gamma=0.9)),
        "cosine_lr": scheduler_case(lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.01)),
        "linear_warmup": scheduler_case(lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0,
                                                             total_iters=4)),
        "plateau_min": scheduler_case(
            lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=1, threshold=0.01,
                                          cooldown=1, min_lr=0.02), falling),
        "plateau_max": scheduler_case(
            lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.2, patience=2, threshold=1e-4),
            rising),
    }


# ---------------------------------------------------------------- gradient clipping

def clip_cases():
    cases = {}
    for name, max_norm, norm_type in [("norm2", 1.0, 2.0), ("norm_inf", 0.5, math.inf),
                                      ("norm1_unclipped", 100.0, 1.0)]:
        grads = [torch.randn(3, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64) * 2,
                 torch.randn(2, 2, 2, dtype=torch.float64)]
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        cases[name] = {"max_norm": max_norm, "norm_type": "inf" if math.isinf(norm_type) else norm_type,
                       "grads": [refdata.tensor(g) for g in grads], "total_norm": total.item(),
                       "clipped": [refdata.tensor(p.grad) for p in params]}
    g = torch.randn(4, 5, dtype=torch.float64)
    p = torch.zeros_like(g, requires_grad=True)
    p.grad = g.clone()
    torch.nn.utils.clip_grad_value_([p], 0.5)
    cases["value"] = {"clip_value": 0.5, "grad": refdata.tensor(g), "clipped": refdata.tensor(p.grad)}
    return cases


# ---------------------------------------------------------------- initializers

def init_stats():
    init = torch.nn.init
    shape = (256, 512)  # fan_in 512, fan_out 256
    keras_lecun_std = math.sqrt(1.0 / 512) / .87962566103423978
    makers = {
        "xavier_uniform": lambda w: init.xavier_uniform_(w),
        "xavier_normal": lambda w: init.xavier_normal_(w),
        "kaiming_uniform_relu": lambda w: init.kaiming_uniform_(w, nonlinearity="relu"),
        "kaiming_normal_relu_fan_out": lambda w: init.kaiming_normal_(w, mode="fan_out",
                                                                       nonlinearity="relu"),
        "kaiming_uniform_default": lambda w: init.kaiming_uniform_(w, a=math.sqrt(5)),
        "lecun_normal": lambda w: init.trunc_normal_(w, std=keras_lecun_std, a=-2 * keras_lecun_std,
                                                     b=2 * keras_lecun_std),
    }
    stats = {}
    for name, make in makers.items():
        w = torch.empty(shape, dtype=torch.float64)
        make(w)
        stats[name] = {"shape": list(shape), "mean": w.mean().item(), "std": w.std().item(),
                       "max_abs": w.abs().max().item()}
    conv = torch.empty(16, 8, 3, 3)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(conv)
    stats["fans_conv"] = {"shape": list(conv.shape), "fan_in": fan_in, "fan_out": fan_out}
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(torch.empty(7, 3))
    stats["fans_linear"] = {"shape": [7, 3], "fan_in": fan_in, "fan_out": fan_out}
    stats["gains"] = {k: init.calculate_gain(k) for k in
                      ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]}
    stats["gains"]["leaky_relu_0.2"] = init.calculate_gain("leaky_relu", 0.2)
    return stats


# ---------------------------------------------------------------- modules

def module_case():
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    with torch.no_grad():
        y = model(x)
    return {"repr": repr(model), "state_dict": {k: refdata.tensor(v) for k, v in model.state_dict().items()},
            "input": refdata.tensor(x), "output": refdata.tensor(y)}


def main():
    data = {"optim": {}, "scheduler": schedulers(), "clip": clip_cases(), "init": init_stats(),
            "module": {"mlp": module_case()}}
    for name, (kind, options) in OPTIMIZERS.items():
        data["optim"][name] = optim_case(kind, options, torch.float64)
    data["optim"]["adam_f32"] = optim_case("adam", dict(lr=0.01), torch.float32)
    refdata.write("nn_optim", data)


if __name__ == "__main__":
    main()
