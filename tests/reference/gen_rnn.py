#!/usr/bin/python3
"""Reference values for rnn_layer and the recurrent layers, from PyTorch 1.13 (Debian's
python3-torch).

Run by hand from the repository root: /usr/bin/python3 tests/reference/gen_rnn.py
Writes tests/reference/data/rnn.json. Deterministic (fixed seed); every tensor is f32. The C++
tests read their inputs (x, initial states, weights) from the same file.

Every case runs a torch.nn module, then backpropagates
    loss = sum(out * grad_out) + sum(h_n * grad_h) [+ sum(c_n * grad_c)]
with fixed random grad_* tensors, and stores "out", "h_n", "c_n" and the gradients "grad_x",
"grad_h0", "grad_c0" and "grad_params" (by parameter name, as "params").

Cases:
  "single_<mode>" (mode lstm, gru, rnn_tanh, rnn_relu): one layer, one direction, time-major
      x [T, N, I], given h0 (and c0): the arguments of nabla's rnn_layer.
  "lstm_2layer_bidirectional": nn.LSTM(num_layers=2, bidirectional=True, batch_first=True).
  "packed_<mode>_bidirectional" (lstm, gru): batch-first padded x [N, T, I] with "lengths",
      run as pack_padded_sequence(enforce_sorted=False); "out" is pad_packed_sequence's (zeros
      at padded steps), "h_n"/"c_n" the states at each sequence's real end. No initial states.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import refdata

torch.manual_seed(0)


def module_for(mode, input_size, hidden, **kwargs):
    if mode == "lstm":
        return nn.LSTM(input_size, hidden, **kwargs)
    if mode == "gru":
        return nn.GRU(input_size, hidden, **kwargs)
    return nn.RNN(input_size, hidden, nonlinearity=mode.split("_")[1], **kwargs)


def run_case(module, x, h0=None, c0=None, lengths=None):
    """Forward, the loss above, backward; returns the case dict."""
    lstm = isinstance(module, nn.LSTM)
    case = {"x": refdata.tensor(x), "params": {k: refdata.tensor(v) for k, v in module.state_dict().items()}}
    x = x.clone().requires_grad_()
    state = None
    if h0 is not None:
        case["h0"] = refdata.tensor(h0)
        h0 = h0.clone().requires_grad_()
        state = h0
        if lstm:
            case["c0"] = refdata.tensor(c0)
            c0 = c0.clone().requires_grad_()
            state = (h0, c0)
    if lengths is not None:
        case["lengths"] = lengths
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=module.batch_first,
                                      enforce_sorted=False)
        out_packed, final = module(packed, state)
        out, _ = pad_packed_sequence(out_packed, batch_first=module.batch_first,
                                     total_length=x.shape[1 if module.batch_first else 0])
    else:
        out, final = module(x, state)
    h_n, c_n = final if lstm else (final, None)
    grad_out, grad_h = torch.randn(out.shape), torch.randn(h_n.shape)
    loss = (out * grad_out).sum() + (h_n * grad_h).sum()
    case.update(out=refdata.tensor(out), h_n=refdata.tensor(h_n), grad_out=refdata.tensor(grad_out), grad_h=refdata.tensor(grad_h))
    if lstm:
        grad_c = torch.randn(c_n.shape)
        loss = loss + (c_n * grad_c).sum()
        case.update(c_n=refdata.tensor(c_n), grad_c=refdata.tensor(grad_c))
    loss.backward()
    case["grad_x"] = refdata.tensor(x.grad)
    if h0 is not None:
        case["grad_h0"] = refdata.tensor(h0.grad)
        if lstm:
            case["grad_c0"] = refdata.tensor(c0.grad)
    case["grad_params"] = {k: refdata.tensor(p.grad) for k, p in module.named_parameters()}
    return case


def main():
    cases = {}
    T, N, I, H = 5, 3, 4, 6
    for mode in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        module = module_for(mode, I, H)
        x = torch.randn(T, N, I)
        h0 = torch.randn(N, H) * 0.5
        c0 = torch.randn(N, H) * 0.5
        case = run_case(module, x, h0.unsqueeze(0), c0.unsqueeze(0))
        # rnn_layer takes [N, H] states: drop the layer axis.
        for key in ("h0", "c0", "h_n", "c_n", "grad_h0", "grad_c0", "grad_h", "grad_c"):
            if key in case:
                case[key]["shape"] = case[key]["shape"][1:]
        case["mode"] = mode
        cases["single_" + mode] = case

    I2, H2 = 3, 4
    module = nn.LSTM(I2, H2, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, T, I2)
    h0 = torch.randn(4, 2, H2) * 0.5
    c0 = torch.randn(4, 2, H2) * 0.5
    cases["lstm_2layer_bidirectional"] = run_case(module, x, h0, c0)

    for mode in ("lstm", "gru"):
        module = module_for(mode, I2, H2, bidirectional=True, batch_first=True)
        x = torch.randn(N, T, I2)
        lengths = [5, 2, 4]
        for n, length in enumerate(lengths):
            x[n, length:] = 0  # padding (its values never matter)
        case = run_case(module, x, lengths=lengths)
        case["mode"] = mode
        cases[f"packed_{mode}_bidirectional"] = case

    refdata.write("rnn", cases)


if __name__ == "__main__":
    main()
