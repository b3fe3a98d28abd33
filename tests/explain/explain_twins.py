"""Small deepgrad models and their PyTorch twins with the same weights (channels-last inputs
on both sides), for checking explanations against Captum."""
import numpy as np
import torch
from torch import nn

import deepgrad as dg
from deepgrad import layers

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _param(array, dtype):
    return nn.Parameter(torch.tensor(np.ascontiguousarray(array), dtype=TORCH_DTYPES[dtype]))


def _copy_linear(linear, dense, dtype):
    kernel, bias = dense.get_weights()
    linear.weight = _param(kernel.T, dtype)
    linear.bias = _param(bias, dtype)


def _copy_conv(conv, layer, dtype):
    kernel, bias = layer.get_weights()                  # (kh, kw, in, out) -> (out, in, kh, kw)
    conv.weight = _param(kernel.transpose(3, 2, 0, 1), dtype)
    conv.bias = _param(bias, dtype)


def _copy_recurrent(module, layer, dtype):
    kernel, recurrent, bias = layer.get_weights()       # gate order i, f, c, o on both sides
    module.weight_ih_l0 = _param(kernel.T, dtype)
    module.weight_hh_l0 = _param(recurrent.T, dtype)
    module.bias_ih_l0 = _param(bias, dtype)
    module.bias_hh_l0 = _param(np.zeros_like(bias), dtype)


class Dense(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden, self.out = nn.Linear(6, 10), nn.Linear(10, 4)

    def forward(self, x):
        return torch.softmax(self.out(torch.tanh(self.hidden(x))), dim=1)


class ConvBlock(nn.Module):
    """Conv + tanh: the module whose output Captum's LayerGradCam reads (NCHW)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 3, 3)

    def forward(self, x):
        return torch.tanh(self.conv(x))


class Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.fc = nn.Conv2d(2, 4, 3), ConvBlock(), nn.Linear(4 * 4 * 3, 5)

    def forward(self, x):
        h = self.c2(torch.relu(self.c1(x.permute(0, 3, 1, 2))))
        return torch.softmax(self.fc(h.permute(0, 2, 3, 1).flatten(1)), dim=1)


class ChannelsFirst(nn.Module):
    """(batch, time, units) -> (batch, units, time), so LayerGradCam sees units as channels."""

    def forward(self, x):
        return x[0].transpose(1, 2)


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.seq = nn.LSTM(3, 6, batch_first=True), ChannelsFirst()
        self.rnn, self.fc = nn.RNN(6, 4, batch_first=True), nn.Linear(4, 3)

    def forward(self, x):
        h = self.seq(self.lstm(x)).transpose(1, 2)
        return torch.softmax(self.fc(self.rnn(h)[0][:, -1]), dim=1)


def make(kind: str, dtype: str, seed: int = 0):
    """(deepgrad model, torch twin, input batch, grad_cam layer name, twin's grad_cam module)."""
    dg.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    if kind == "dense":
        model = dg.Sequential([layers.Input((6,), dtype=dtype), layers.Dense(10, activation="tanh", dtype=dtype),
                               layers.Dense(4, activation="softmax", dtype=dtype)])
        twin = Dense()
        _copy_linear(twin.hidden, model.layers[0], dtype)
        _copy_linear(twin.out, model.layers[1], dtype)
        return model, twin.eval(), rng.normal(size=(3, 6)).astype(dtype), None, None
    if kind == "conv":
        model = dg.Sequential([layers.Input((8, 8, 2), dtype=dtype),
                               layers.Conv2D(4, 3, activation="relu", dtype=dtype),
                               layers.Conv2D(3, 3, activation="tanh", name="last_conv", dtype=dtype),
                               layers.Flatten(dtype=dtype), layers.Dense(5, activation="softmax", dtype=dtype)])
        twin = Conv()
        _copy_conv(twin.c1, model.layers[0], dtype)
        _copy_conv(twin.c2.conv, model.layers[1], dtype)
        _copy_linear(twin.fc, model.layers[3], dtype)
        return model, twin.eval(), rng.uniform(size=(3, 8, 8, 2)).astype(dtype), "last_conv", twin.c2
    if kind == "recurrent":
        model = dg.Sequential([layers.Input((5, 3), dtype=dtype),
                               layers.LSTM(6, return_sequences=True, name="seq", dtype=dtype),
                               layers.SimpleRNN(4, dtype=dtype), layers.Dense(3, activation="softmax", dtype=dtype)])
        twin = Recurrent()
        _copy_recurrent(twin.lstm, model.layers[0], dtype)
        _copy_recurrent(twin.rnn, model.layers[1], dtype)
        _copy_linear(twin.fc, model.layers[2], dtype)
        return model, twin.eval(), rng.normal(size=(3, 5, 3)).astype(dtype), "seq", twin.seq
    raise ValueError(kind)


def outputs_agree(model, twin, x):
    with torch.no_grad():
        theirs = twin(torch.tensor(x)).numpy()
    return np.abs(model(x).data - theirs).max()
