"""Recurrent cells (ConvLSTM, ConvGRU) and the layers that wrap them.

Names follow the published checkpoints: ConvLSTM has one ``Gates`` conv,
ConvGRU has ``reset_gate``/``update_gate``/``out_gate``; wrappers hold
``conv`` and ``recurrent_block``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn import init

from .layers import ConvLayer, ResidualBlock


class ConvLSTM(nn.Module):
    """Convolutional LSTM; state is ``(hidden, cell)``."""

    def __init__(self, input_size, hidden_size, kernel_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.Gates = nn.Conv2d(input_size + hidden_size, 4 * hidden_size, kernel_size, padding=kernel_size // 2)

    def forward(self, x, prev_state=None):
        if prev_state is None:
            shape = (x.shape[0], self.hidden_size) + tuple(x.shape[2:])
            prev_state = (x.new_zeros(shape), x.new_zeros(shape))
        prev_hidden, prev_cell = prev_state
        gates = self.Gates(torch.cat((x, prev_hidden), 1))
        in_gate, remember_gate, out_gate, cell_gate = gates.chunk(4, 1)
        cell = torch.sigmoid(remember_gate) * prev_cell + torch.sigmoid(in_gate) * torch.tanh(cell_gate)
        hidden = torch.sigmoid(out_gate) * torch.tanh(cell)
        return hidden, cell


class ConvGRU(nn.Module):
    """Convolutional GRU; state is the hidden tensor."""

    def __init__(self, input_size, hidden_size, kernel_size):
        super().__init__()
        self.hidden_size = hidden_size
        pad = kernel_size // 2
        self.reset_gate = nn.Conv2d(input_size + hidden_size, hidden_size, kernel_size, padding=pad)
        self.update_gate = nn.Conv2d(input_size + hidden_size, hidden_size, kernel_size, padding=pad)
        self.out_gate = nn.Conv2d(input_size + hidden_size, hidden_size, kernel_size, padding=pad)
        for conv in (self.reset_gate, self.update_gate, self.out_gate):
            init.orthogonal_(conv.weight)
            init.constant_(conv.bias, 0.0)

    def forward(self, x, prev_state=None):
        if prev_state is None:
            prev_state = x.new_zeros((x.shape[0], self.hidden_size) + tuple(x.shape[2:]))
        stacked = torch.cat([x, prev_state], dim=1)
        if torch.is_grad_enabled():
            update = torch.sigmoid(self.update_gate(stacked))
            reset = torch.sigmoid(self.reset_gate(stacked))
        else:  # inference: both gates in one convolution (one pass over the input)
            weight = torch.cat([self.update_gate.weight, self.reset_gate.weight])
            bias = torch.cat([self.update_gate.bias, self.reset_gate.bias])
            pad = self.update_gate.padding
            update, reset = torch.sigmoid(F.conv2d(stacked, weight, bias, padding=pad)).chunk(2, dim=1)
        candidate = torch.tanh(self.out_gate(torch.cat([x, prev_state * reset], dim=1)))
        return prev_state * (1 - update) + candidate * update


def make_cell(kind: str, channels: int, kernel_size: int = 3) -> nn.Module:
    if kind == "convlstm":
        return ConvLSTM(channels, channels, kernel_size)
    if kind == "convgru":
        return ConvGRU(channels, channels, kernel_size)
    raise ValueError(f"recurrent_block_type must be convlstm or convgru, not {kind!r}")


def _hidden(state):
    return state[0] if isinstance(state, tuple) else state


class RecurrentConvLayer(nn.Module):
    """ConvLayer followed by a recurrent cell; returns ``(output, state)``."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=0,
                 recurrent_block_type="convlstm", activation="relu", norm=None):
        super().__init__()
        self.conv = ConvLayer(in_channels, out_channels, kernel_size, stride, padding, activation, norm)
        self.recurrent_block = make_cell(recurrent_block_type, out_channels, 3)

    def forward(self, x, prev_state=None):
        state = self.recurrent_block(self.conv(x), prev_state)
        return _hidden(state), state


class RecurrentResidualLayer(nn.Module):
    """ResidualBlock followed by a recurrent cell (FireNet's recurrent residual block)."""

    def __init__(self, in_channels, out_channels, recurrent_block_type="convgru", norm=None):
        super().__init__()
        self.conv = ResidualBlock(in_channels, out_channels, norm=norm)
        self.recurrent_block = make_cell(recurrent_block_type, out_channels, 3)

    def forward(self, x, prev_state=None):
        state = self.recurrent_block(self.conv(x), prev_state)
        return _hidden(state), state


def detach_states(states):
    """Detached copy of a nested list/tuple of state tensors (None kept)."""
    if states is None:
        return None
    if isinstance(states, torch.Tensor):
        return states.detach()
    return type(states)(detach_states(s) for s in states)
