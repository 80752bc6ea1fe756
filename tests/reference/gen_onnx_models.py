#!/usr/bin/python3
"""PyTorch as the peer of nabla's ONNX import (tests/io/test_onnx_import.cpp).

Run with Debian's python3-torch (1.13): /usr/bin/python3 tests/reference/gen_onnx_models.py
Builds small models with fixed seeds, exports each with torch.onnx.export (opset 17; one LSTM
also at opset 9) to tests/reference/data/onnx/NAME.onnx and saves a fixed input (NAME_input.npy)
and PyTorch's output on it (NAME_output.npy). The recurrent models are batch_first, so the files also carry the
Transpose/Squeeze/Gather nodes that torch's exporter wraps around ONNX's LSTM and GRU.
"""
import os

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "onnx")


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 12), nn.Tanh(),
                                 nn.Linear(12, 8), nn.LeakyReLU(0.01), nn.Linear(8, 8),
                                 nn.Sigmoid(), nn.Dropout(0.3), nn.Linear(8, 4), nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)


class ResidualCnn(nn.Module):
    """Conv-BN-ReLU, a residual block with a grouped 3x3 convolution, pooling and a head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.down = nn.Conv2d(8, 12, 3, stride=2, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.side = nn.Conv2d(8, 4, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        h = torch.relu(self.bn0(self.stem(x)))
        r = torch.relu(self.bn1(self.conv1(h)))
        r = self.bn2(self.conv2(r))
        h = torch.relu(h + r)
        h = self.pool(h)
        a = self.down(h)
        b = self.avg(self.side(h))
        h = torch.cat([a, b], dim=1)
        h = self.gap(h)
        return self.fc(torch.flatten(h, 1))


class Recurrent(nn.Module):
    """batch_first LSTM or GRU; the head reads the last layer's final hidden state."""

    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 3)

    def forward(self, x):
        _, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        return self.fc(h[-1])


class LastStep(nn.Module):
    """The last step of a GRU's outputs (y[:, -1]: a Gather on the time axis), a head on it."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(5, 7, batch_first=True)
        self.fc = nn.Linear(7, 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class Sequences(nn.Module):
    """An LSTM or GRU (layers stacked, bidirectional) returning every step, a Dense on each step
    (MatMul + Add), flattened."""

    def __init__(self, cell=nn.LSTM, num_layers=1, bidirectional=False):
        super().__init__()
        self.rnn = cell(4, 6, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(12 if bidirectional else 6, 2)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y).reshape(x.shape[0], -1)


class GeluMlp(nn.Module):
    """Input scaling by constants ((x - 0.5) / 0.25, * 2, + 1: Sub, Div, Mul, Add of scalars),
    Linear, GELU (exported as its erf formula), LayerNorm, Dropout, Linear, LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.gelu = nn.GELU()
        self.norm = nn.LayerNorm(16)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        x = (x - 0.5) / 0.25
        h = self.norm(self.gelu(self.fc1(x)))
        h = self.drop(h) * 2.0 + 1.0
        return torch.log_softmax(self.fc2(h), dim=1)


class ConvAutoencoder(nn.Module):
    """Strided convolutions down, ConvTranspose2d and nearest Upsample back up, Sigmoid."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                                     nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1), nn.ELU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4, 1, 3, padding=1),
            nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class TextClassifier(nn.Module):
    """Embedding (a Gather on the table), the mean over the tokens (ReduceMean), a head."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20, 8)
        self.fc = nn.Linear(8, 3)

    def forward(self, ids):
        return self.fc(self.embedding(ids).mean(dim=1))


class GatedMlp(nn.Module):
    """SiLU (exported as x * Sigmoid(x)), a sigmoid gate and a difference of two tensors: Mul and
    Sub of tensors of one shape."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 10)
        self.fc2 = nn.Linear(6, 10)
        self.fc3 = nn.Linear(10, 3)

    def forward(self, x):
        h = nn.functional.silu(self.fc1(x))
        g = torch.sigmoid(self.fc2(x))
        return self.fc3(h * g - h)


class GroupNormCnn(nn.Module):
    """GroupNorm with and without affine parameters (exported as Reshape, InstanceNormalization,
    Reshape back, Mul, Add: opset 17 has no GroupNormalization), a flattened head."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(),
                                 nn.Conv2d(4, 6, 3), nn.GroupNorm(3, 6, affine=False),
                                 nn.Flatten(), nn.Linear(6 * 3 * 3, 3))

    def forward(self, x):
        return self.net(x)


def train_a_little(model, x, steps=5):
    """A few SGD steps in training mode, so that BatchNorm's running statistics move."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()
    model.eval()


def export(name, model, x, opset=17):
    model.eval()
    with torch.no_grad():
        y = model(x)
    path = os.path.join(OUT, name + ".onnx")
    # PRESERVE (of a model in eval mode) keeps BatchNormalization nodes in their inference form;
    # the default EVAL mode would fold them into the convolutions before them.
    torch.onnx.export(model, (x,), path, opset_version=opset, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE)
    # Token ids stay int64 (the graph's input type); everything else is float32.
    np.save(os.path.join(OUT, name + "_input.npy"),
            x.numpy() if x.dtype == torch.int64 else x.numpy().astype(np.float32))
    np.save(os.path.join(OUT, name + "_output.npy"), y.numpy().astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(13)
    export("mlp", Mlp(), torch.randn(4, 6))

    torch.manual_seed(14)
    cnn = ResidualCnn()
    train_a_little(cnn, torch.randn(8, 3, 12, 12) * 2 + 0.5)
    export("residual_cnn", cnn, torch.randn(2, 3, 12, 12))

    torch.manual_seed(15)
    export("lstm", Recurrent(nn.LSTM), torch.randn(3, 6, 5))
    torch.manual_seed(16)
    export("gru", Recurrent(nn.GRU), torch.randn(3, 6, 5))
    # An older opset: attributes where opset 17 has inputs, and h[-1] written as Slice + Squeeze.
    torch.manual_seed(15)
    export("lstm_opset9", Recurrent(nn.LSTM), torch.randn(3, 6, 5), opset=9)
    torch.manual_seed(17)
    export("lstm_sequences", Sequences(), torch.randn(2, 5, 4))
    torch.manual_seed(20)
    export("gru_last_step", LastStep(), torch.randn(3, 6, 5))
    torch.manual_seed(18)
    export("gru_stacked_sequences", Sequences(nn.GRU, 2), torch.randn(2, 5, 4))
    torch.manual_seed(19)
    export("bilstm_stacked_sequences", Sequences(nn.LSTM, 2, True), torch.randn(2, 5, 4))
    torch.manual_seed(21)
    export("gelu_mlp", GeluMlp(), torch.randn(4, 6))
    torch.manual_seed(22)
    export("conv_autoencoder", ConvAutoencoder(), torch.rand(2, 1, 8, 8))
    torch.manual_seed(23)
    export("text_classifier", TextClassifier(), torch.randint(0, 20, (3, 7)))
    torch.manual_seed(25)
    export("gated_mlp", GatedMlp(), torch.randn(4, 6))
    torch.manual_seed(24)
    group_norm = GroupNormCnn()
    with torch.no_grad():  # affine parameters away from their initial ones and zeros
        group_norm.net[1].weight.uniform_(0.5, 1.5)
        group_norm.net[1].bias.uniform_(-0.5, 0.5)
    export("group_norm_cnn", group_norm, torch.randn(2, 3, 5, 5))


if __name__ == "__main__":
    main()
