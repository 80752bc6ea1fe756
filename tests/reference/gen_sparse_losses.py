#!/usr/bin/python3
"""Reference values for the losses and the sparse optimizer of issue 17's item 5, from PyTorch 1.13
(Debian's python3-torch), f64:

- dice/*: soft Dice (no PyTorch op: written here in plain torch ops, the formula of
  ops::dice_loss) on probabilities, with its gradient; dice_crossentropy/*: F.cross_entropy over
  the pixels plus the Dice of softmax(logits), with the gradient to the logits.
- sampled_softmax/*: TensorFlow's sampled softmax for a fixed sample, in plain torch ops (true
  logit and sampled logits minus log Q, accidental hits masked with -FLT_MAX, cross-entropy with
  the true class first), with the gradients to hidden, weight and bias.
- negative_sampling/*: word2vec's SGNS objective in plain torch ops, with its gradients.
- sparse_adam/*: torch.optim.SparseAdam on an nn.Embedding(sparse=True) weight, three steps of
  given ids and upstream gradients; the weight after each step.

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_sparse_losses.py
Writes tests/reference/data/sparse_losses.json. Deterministic (fixed seed).
"""

import torch
import torch.nn.functional as F

import refdata

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
FLT_MAX = 3.4028234663852886e38
cases = {}


def dice(p, labels, smooth):
    c = p.shape[-1]
    p = p.reshape(-1, c)
    y = F.one_hot(labels.reshape(-1), c).to(p.dtype)
    d = (2 * (p * y).sum(0) + smooth) / (p.sum(0) + y.sum(0) + smooth)
    return 1 - d.mean()


for name, shape, classes, smooth in [("pixels", (2, 3, 4), 5, 1.0), ("rows", (6,), 3, 1.0),
                                     ("smooth0", (2, 4, 4), 3, 0.0)]:
    probs = torch.softmax(torch.randn(*shape, classes), -1).requires_grad_()
    labels = torch.randint(0, classes, shape)
    out = dice(probs, labels, smooth)
    out.backward()
    cases["dice/" + name] = {"probs": refdata.tensor(probs), "labels": refdata.tensor(labels),
                             "smooth": smooth, "out": refdata.tensor(out),
                             "grad_probs": refdata.tensor(probs.grad)}

for name, shape, classes in [("pixels", (2, 3, 4), 5)]:
    logits = torch.randn(*shape, classes).requires_grad_()
    labels = torch.randint(0, classes, shape)
    out = F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1)) + dice(
        torch.softmax(logits, -1), labels, 1.0)
    out.backward()
    cases["dice_crossentropy/" + name] = {
        "logits": refdata.tensor(logits), "labels": refdata.tensor(labels),
        "out": refdata.tensor(out), "grad_logits": refdata.tensor(logits.grad)}


def sampled_softmax(hidden, weight, bias, labels, sampled, sampled_log_q, true_log_q):
    true_logits = (hidden * weight[labels]).sum(1) + bias[labels] - true_log_q
    sampled_logits = hidden @ weight[sampled].t() + bias[sampled] - sampled_log_q
    hits = labels[:, None] == sampled[None, :]
    sampled_logits = sampled_logits + torch.where(hits, -FLT_MAX, 0.0)
    logits = torch.cat([true_logits[:, None], sampled_logits], 1)
    return F.cross_entropy(logits, torch.zeros(len(labels), dtype=torch.int64))


for name, n, d, v, labels, sampled in [("hit", 4, 3, 10, [1, 7, 3, 1], [0, 7, 2, 5]),
                                       ("no_hit", 3, 5, 8, [6, 6, 2], [0, 1, 3])]:
    hidden = torch.randn(n, d).requires_grad_()
    weight = torch.randn(v, d).requires_grad_()
    bias = torch.randn(v).requires_grad_()
    labels = torch.tensor(labels)
    sampled = torch.tensor(sampled)
    sampled_log_q = torch.log(torch.rand(len(sampled)))
    true_log_q = torch.log(torch.rand(n))
    out = sampled_softmax(hidden, weight, bias, labels, sampled, sampled_log_q, true_log_q)
    out.backward()
    cases["sampled_softmax/" + name] = {
        "hidden": refdata.tensor(hidden), "weight": refdata.tensor(weight),
        "bias": refdata.tensor(bias), "labels": refdata.tensor(labels),
        "sampled": refdata.tensor(sampled), "sampled_log_q": refdata.tensor(sampled_log_q),
        "true_log_q": refdata.tensor(true_log_q), "out": refdata.tensor(out),
        "grad_hidden": refdata.tensor(hidden.grad), "grad_weight": refdata.tensor(weight.grad),
        "grad_bias": refdata.tensor(bias.grad)}

for name, n, d, v, k in [("small", 4, 3, 9, 2)]:
    center = torch.randn(n, d).requires_grad_()
    output_weight = torch.randn(v, d).requires_grad_()
    context = torch.randint(0, v, (n,))
    negatives = torch.randint(0, v, (n, k))
    pos = (center * output_weight[context]).sum(1)
    neg = (output_weight[negatives] * center[:, None, :]).sum(2)
    out = (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(1)).mean()
    out.backward()
    cases["negative_sampling/" + name] = {
        "center": refdata.tensor(center), "output_weight": refdata.tensor(output_weight),
        "context": refdata.tensor(context), "negatives": refdata.tensor(negatives),
        "out": refdata.tensor(out), "grad_center": refdata.tensor(center.grad),
        "grad_output_weight": refdata.tensor(output_weight.grad)}

# SparseAdam in f32, as nabla's default dtype.
torch.set_default_dtype(torch.float32)
emb = torch.nn.Embedding(8, 3, sparse=True)
initial = emb.weight.detach().clone()
opt = torch.optim.SparseAdam(emb.parameters(), lr=0.1, betas=(0.8, 0.95), eps=1e-6)
steps = []
for ids in ([1, 4, 4, 6], [4, 0], [6, 1, 1]):
    ids = torch.tensor(ids)
    upstream = torch.randn(len(ids), 3)
    opt.zero_grad()
    emb(ids).backward(upstream)
    opt.step()
    steps.append({"ids": refdata.tensor(ids), "grad_out": refdata.tensor(upstream),
                  "weight": refdata.tensor(emb.weight)})
cases["sparse_adam/three_steps"] = {"initial": refdata.tensor(initial), "lr": 0.1, "beta1": 0.8,
                                    "beta2": 0.95, "eps": 1e-6, "steps": steps}

refdata.write("sparse_losses", cases)
