#!/usr/bin/python3
"""Reference values for embedding, scaled dot-product attention, multi-head attention and the
Transformer layers, from PyTorch 1.13 (Debian's python3-torch).

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_attention.py
Writes tests/reference/data/attention.json. Deterministic (fixed seed).

Inputs, weights and output gradients are f32 values (stored as "f32"); every attention case is
computed in float64 from those values and its results are stored as "f64", so that the C++ tests
can check an f64 run tightly and an f32 run at f32 precision against the same numbers.

Masks are stored in nabla's convention: bool true = a real key / an allowed position (PyTorch's
key_padding_mask and bool attn_mask use true = masked out; the conversion happens here).

Cases:
  embedding/*: "weight", "ids", "padding_idx", "max_norm", "grad_out" -> "out", "grad_weight",
      and with max_norm "weight_after" (the renormalized table). Computed in f32 as F.embedding.
  sdpa/*: "q", "k", "v", optional "mask" (bool or float), "is_causal", optional "scale",
      "grad_out" -> "out", "grad_q", "grad_k", "grad_v". torch 1.13 has no
      F.scaled_dot_product_attention: the reference is written in torch ops below.
  mha/*: "weights" (the name of a state dict in "state_dicts"), "num_heads", "query", "key",
      "value" (key/value absent for self-attention), optional "key_padding_mask", "attn_mask",
      "grad_out" -> "out", "grad_query" (and "grad_key", "grad_value").
  encoder/*: "weights", "nhead", "dim_feedforward", "activation", "norm_first", "src",
      optional "src_key_padding_mask", "is_causal", "grad_out" -> "out", "grad_src".
  decoder/*: as encoder, with "tgt", "memory", optional "memory_key_padding_mask" (the target
      self-attention is causal) -> "out", "grad_tgt", "grad_memory".
"""
import math

import torch
import torch.nn.functional as F

import refdata

torch.manual_seed(0)


def f32(*shape, scale=1.0):
    """A float64 tensor holding f32-representable values."""
    return torch.randn(*shape).mul(scale).float().double()


def stored(t):
    """Inputs are stored as f32 (they are exactly f32 values)."""
    return refdata.tensor(t.float()) if t.dtype == torch.float64 else refdata.tensor(t)


def randomize(module, scale=0.3):
    """Every parameter from N(0, scale^2) (norm weights around 1), f32-representable."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            value = f32(*p.shape, scale=scale)
            if name.startswith("norm") and name.endswith("weight"):
                value += 1.0
            p.copy_(value)
    return module.double()


def state_dict_json(module):
    return {name: stored(t) for name, t in module.state_dict().items()}


cases = {}
state_dicts = {}


# ---- embedding ----
def embedding_case(name, weight, ids, padding_idx=None, max_norm=None):
    c = {"weight": refdata.tensor(weight), "ids": refdata.tensor(ids), "padding_idx": -1 if padding_idx is None else
         padding_idx, "max_norm": 0.0 if max_norm is None else max_norm}
    w = weight.clone().requires_grad_()
    out = F.embedding(ids, w, padding_idx=padding_idx, max_norm=max_norm)
    grad_out = torch.randn(out.shape)
    out.backward(grad_out)
    c.update(grad_out=refdata.tensor(grad_out), out=refdata.tensor(out), grad_weight=refdata.tensor(w.grad))
    if max_norm is not None:
        c["weight_after"] = refdata.tensor(w)
    cases["embedding/" + name] = c


embedding_case("padding_idx", torch.randn(10, 4), torch.tensor([[1, 2, 7, 2, 0], [9, 2, 2, 5, 1]]),
               padding_idx=2)
embedding_case("max_norm", torch.randn(8, 3) * 1.5, torch.tensor([3, 1, 3, 6, 0, 1]),
               max_norm=1.0)
embedding_case("max_norm_padding", torch.randn(6, 5), torch.tensor([[0, 4, 4], [2, 0, 5]]),
               padding_idx=0, max_norm=2.0)


# ---- scaled dot-product attention, in torch ops ----
def sdpa_reference(q, k, v, mask=None, is_causal=False, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if is_causal:
        L, S = scores.shape[-2:]
        scores = scores.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool \
            else scores + mask
    return torch.softmax(scores, -1) @ v


def sdpa_case(name, q_shape, k_shape, v_shape, mask=None, is_causal=False, scale=None):
    q, k, v = (f32(*s).requires_grad_() for s in (q_shape, k_shape, v_shape))
    c = {"q": stored(q), "k": stored(k), "v": stored(v), "is_causal": is_causal}
    if mask is not None:
        c["mask"] = stored(mask)
    if scale is not None:
        c["scale"] = scale
    out = sdpa_reference(q, k, v, mask, is_causal, scale)
    grad_out = f32(*out.shape)
    out.backward(grad_out)
    c.update(grad_out=stored(grad_out), out=refdata.tensor(out), grad_q=refdata.tensor(q.grad), grad_k=refdata.tensor(k.grad),
             grad_v=refdata.tensor(v.grad))
    cases["sdpa/" + name] = c


def allowed(*shape):
    """A random bool mask with at least one allowed key per row."""
    m = torch.rand(*shape) < 0.6
    m[..., 0] = True
    return m


sdpa_case("plain", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3))
sdpa_case("bool_mask", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3), mask=allowed(2, 1, 3, 5))
sdpa_case("float_mask", (2, 3, 4), (2, 5, 4), (2, 5, 2), mask=f32(3, 5))
sdpa_case("causal", (2, 4, 4), (2, 4, 4), (2, 4, 3), is_causal=True)
sdpa_case("broadcast_scale", (2, 1, 3, 4), (1, 2, 5, 4), (5, 3), scale=0.3)


# ---- nn.MultiheadAttention ----
E, HEADS = 8, 2
mha = randomize(torch.nn.MultiheadAttention(E, HEADS, batch_first=True)).eval()
state_dicts["mha"] = state_dict_json(mha)


def mha_case(name, query, key=None, value=None, key_padding_mask=None, attn_mask=None):
    self_attention = key is None
    query = query.requires_grad_()
    c = {"weights": "mha", "num_heads": HEADS, "query": stored(query)}
    if not self_attention:
        key, value = key.requires_grad_(), value.requires_grad_()
        c.update(key=stored(key), value=stored(value))
    else:
        key = value = query
    torch_kpm = torch_attn_mask = None
    if key_padding_mask is not None:
        c["key_padding_mask"] = refdata.tensor(key_padding_mask)
        torch_kpm = ~key_padding_mask
    if attn_mask is not None:
        c["attn_mask"] = stored(attn_mask)
        torch_attn_mask = ~attn_mask if attn_mask.dtype == torch.bool else attn_mask
    out, _ = mha(query, key, value, key_padding_mask=torch_kpm, attn_mask=torch_attn_mask,
                 need_weights=False)
    grad_out = f32(*out.shape)
    out.backward(grad_out)
    c.update(grad_out=stored(grad_out), out=refdata.tensor(out), grad_query=refdata.tensor(query.grad))
    if not self_attention:
        c.update(grad_key=refdata.tensor(key.grad), grad_value=refdata.tensor(value.grad))
    cases["mha/" + name] = c


padding = torch.tensor([[True, True, True, True], [True, True, True, False]])
mha_case("self_padding", f32(2, 4, E), key_padding_mask=padding)
mha_case("self_bool_mask", f32(2, 4, E), attn_mask=allowed(4, 4))
mha_case("cross_float_mask_padding", f32(2, 3, E), f32(2, 4, E), f32(2, 4, E),
         key_padding_mask=padding, attn_mask=f32(3, 4))


# ---- TransformerEncoderLayer / TransformerDecoderLayer (dropout 0, eval) ----
D_MODEL, FF = 8, 12
causal_mask = torch.nn.Transformer.generate_square_subsequent_mask(4).double()
encoder = torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.0, batch_first=True)
encoder = randomize(encoder)
state_dicts["encoder"] = state_dict_json(encoder)


def encoder_case(name, activation, norm_first, key_padding_mask=None, is_causal=False):
    encoder.activation = F.gelu if activation == "gelu" else F.relu
    encoder.norm_first = norm_first
    encoder.eval()
    src = f32(2, 4, D_MODEL).requires_grad_()
    c = {"weights": "encoder", "nhead": HEADS, "dim_feedforward": FF, "activation": activation,
         "norm_first": norm_first, "is_causal": is_causal, "src": stored(src)}
    torch_kpm = None
    if key_padding_mask is not None:
        c["src_key_padding_mask"] = refdata.tensor(key_padding_mask)
        torch_kpm = ~key_padding_mask
    out = encoder(src, src_mask=causal_mask if is_causal else None,
                  src_key_padding_mask=torch_kpm)
    grad_out = f32(*out.shape)
    out.backward(grad_out)
    c.update(grad_out=stored(grad_out), out=refdata.tensor(out), grad_src=refdata.tensor(src.grad))
    cases["encoder/" + name] = c


encoder_case("post_relu_padding", "relu", False, key_padding_mask=padding)
encoder_case("pre_gelu_causal", "gelu", True, is_causal=True)
encoder_case("post_gelu", "gelu", False)
encoder_case("pre_relu_padding", "relu", True, key_padding_mask=padding)

decoder = torch.nn.TransformerDecoderLayer(D_MODEL, HEADS, FF, dropout=0.0, batch_first=True)
decoder = randomize(decoder)
state_dicts["decoder"] = state_dict_json(decoder)


def decoder_case(name, activation, norm_first, memory_key_padding_mask=None):
    decoder.activation = F.gelu if activation == "gelu" else F.relu
    decoder.norm_first = norm_first
    decoder.eval()
    tgt = f32(2, 4, D_MODEL).requires_grad_()
    memory = f32(2, 5, D_MODEL).requires_grad_()
    c = {"weights": "decoder", "nhead": HEADS, "dim_feedforward": FF, "activation": activation,
         "norm_first": norm_first, "tgt": stored(tgt), "memory": stored(memory)}
    torch_kpm = None
    if memory_key_padding_mask is not None:
        c["memory_key_padding_mask"] = refdata.tensor(memory_key_padding_mask)
        torch_kpm = ~memory_key_padding_mask
    out = decoder(tgt, memory, tgt_mask=causal_mask, memory_key_padding_mask=torch_kpm)
    grad_out = f32(*out.shape)
    out.backward(grad_out)
    c.update(grad_out=stored(grad_out), out=refdata.tensor(out), grad_tgt=refdata.tensor(tgt.grad),
             grad_memory=refdata.tensor(memory.grad))
    cases["decoder/" + name] = c


memory_padding = torch.tensor([[True, True, True, True, True], [True, True, True, False, False]])
decoder_case("post_relu_memory_padding", "relu", False, memory_key_padding_mask=memory_padding)
decoder_case("pre_gelu", "gelu", True)

cases["state_dicts"] = state_dicts
refdata.write("attention", cases)
