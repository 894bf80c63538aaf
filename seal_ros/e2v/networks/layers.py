"""Convolutional building blocks of the rpg_e2vid family.

Attribute names follow the published checkpoints (``conv2d``,
``transposed_conv2d``, ``norm_layer``, ``conv1``/``bn1``/``conv2``/``bn2``) so
their state dicts load strictly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _norm_name(norm):
    """Checkpoints store ``norm`` as None, 'none', 'None', 'BN' or 'IN'."""
    if norm is None:
        return None
    norm = str(norm)
    return norm if norm in ("BN", "IN") else None


def _norm_layer(norm, channels):
    """The normalisation module of a conv layer (key ``norm_layer`` in rpg checkpoints), or None."""
    if norm == "BN":
        return nn.BatchNorm2d(channels)
    if norm == "IN":
        return nn.InstanceNorm2d(channels, track_running_stats=True)
    return None


def _activation(name):
    if name is None or name in ("", "none", "None"):
        return None
    fn = getattr(torch, name, None)
    if fn is None:
        raise ValueError(f"unknown activation {name!r}")
    return fn


class ConvLayer(nn.Module):
    """conv2d -> optional BN/IN -> activation (relu by default)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, activation="relu", norm=None):
        super().__init__()
        self.norm = _norm_name(norm)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=self.norm != "BN")
        self.activation = _activation(activation)
        self.norm_layer = _norm_layer(self.norm, out_channels)

    def forward(self, x):
        out = self.conv2d(x)
        if self.norm is not None:
            out = self.norm_layer(out)
        return self.activation(out) if self.activation is not None else out


class TransposedConvLayer(nn.Module):
    """x2 upsampling by a transposed convolution (E2VID with ``use_upsample_conv=False``)."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0, activation="relu", norm=None):
        super().__init__()
        self.norm = _norm_name(norm)
        self.transposed_conv2d = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=2,
                                                    padding=padding, output_padding=1, bias=self.norm != "BN")
        self.activation = _activation(activation)
        self.norm_layer = _norm_layer(self.norm, out_channels)

    def forward(self, x):
        out = self.transposed_conv2d(x)
        if self.norm is not None:
            out = self.norm_layer(out)
        return self.activation(out) if self.activation is not None else out


class UpsampleConvLayer(ConvLayer):
    """Bilinear x2 upsampling followed by a ConvLayer (fewer checkerboard artefacts)."""

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return super().forward(x)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (ResNet basic block)."""

    def __init__(self, in_channels, out_channels, stride=1, norm=None):
        super().__init__()
        self.norm = _norm_name(norm)
        bias = self.norm != "BN"
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=bias)
        if self.norm == "BN":
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.bn2 = nn.BatchNorm2d(out_channels)
        elif self.norm == "IN":
            self.bn1 = nn.InstanceNorm2d(out_channels)
            self.bn2 = nn.InstanceNorm2d(out_channels)

    def forward(self, x):
        out = self.conv1(x)
        if self.norm is not None:
            out = self.bn1(out)
        out = F.relu(out)
        out = self.conv2(out)
        if self.norm is not None:
            out = self.bn2(out)
        return F.relu(out + x)


def skip_sum(x, skip):
    return x + skip


def skip_concat(x, skip):
    return torch.cat([x, skip], dim=1)
