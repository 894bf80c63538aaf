"""FireNet (Scheerlinck et al., WACV 2020): a 16-channel, ~38k-parameter recurrent network.

Two published layouts:

* :class:`FireNet` - the original (``cedric-scheerlinck/rpg_e2vid``, EVREAL's
  ``FireNet_legacy``): ``net.head`` (conv + ConvGRU), ``net.resblocks.0``
  (residual block + ConvGRU), ``net.resblocks.1`` (residual block),
  ``net.pred`` (1x1 conv, no activation). ``head_skip``: add (``skip_type``
  sum) or concatenate the head's output before ``pred``. Off by default, as in
  the paper's diagram and EVREAL's FireNet_legacy; one rpg_e2vid revision of
  UNetFire sums it, which the state dict cannot tell: set ``head_skip: true``
  in the checkpoint's model config for such weights (implied by concat).
* :class:`FireNetFlat` - the refactored layout of ``event_cnn_minimal`` /
  EVREAL (``head``, ``G1``, ``R1``, ``G2``, ``R2``, ``pred``).

Both take a (N, num_bins, H, W) voxel grid and previous states and return
``(image, states)``; the image is unbounded (callers clip to [0, 1]).
"""
from __future__ import annotations

from torch import nn

from .layers import ConvLayer, ResidualBlock, skip_concat, skip_sum
from .recurrent import ConvGRU, RecurrentConvLayer, RecurrentResidualLayer


class _UNetFire(nn.Module):
    def __init__(self, num_bins, base_num_channels, num_residual_blocks, kernel_size,
                 recurrent_block_type, recurrent_indices, norm, skip_type, head_skip):
        super().__init__()
        self.recurrent_indices = list(recurrent_indices)
        self.head_skip = head_skip
        self.skip = skip_concat if skip_type == "concat" else skip_sum
        self.head = RecurrentConvLayer(num_bins, base_num_channels, kernel_size=kernel_size,
                                       padding=kernel_size // 2, recurrent_block_type=recurrent_block_type, norm=norm)
        self.resblocks = nn.ModuleList()
        self.recurrent_res = []
        for i in range(num_residual_blocks):
            if i in self.recurrent_indices or -1 in self.recurrent_indices:
                self.resblocks.append(RecurrentResidualLayer(base_num_channels, base_num_channels,
                                                             recurrent_block_type=recurrent_block_type, norm=norm))
                self.recurrent_res.append(True)
            else:
                self.resblocks.append(ResidualBlock(base_num_channels, base_num_channels, norm=norm))
                self.recurrent_res.append(False)
        pred_in = 2 * base_num_channels if skip_type == "concat" else base_num_channels
        self.pred = ConvLayer(pred_in, 1, kernel_size=1, padding=0, activation=None, norm=None)
        nn.init.constant_(self.pred.conv2d.bias, 0.5)  # start mid-grey
        self.num_recurrent_units = 1 + sum(self.recurrent_res)

    def forward(self, x, prev_states):
        if prev_states is None:
            prev_states = [None] * self.num_recurrent_units
        states = []
        x, s = self.head(x, prev_states[0])
        states.append(s)
        for block, recurrent in zip(self.resblocks, self.recurrent_res):
            if recurrent:
                x, s = block(x, prev_states[len(states)])
                states.append(s)
            else:
                x = block(x)
        if self.head_skip:
            x = self.skip(x, states[0][0] if isinstance(states[0], tuple) else states[0])
        return self.pred(x), states


class FireNet(nn.Module):
    """Original FireNet layout (``net.*`` keys); config keys as in the published checkpoints.

    ``num_encoders`` only sets how far inputs are padded (FireNet does not
    downsample): the legacy ``BaseE2VID`` that rpg_e2vid's FireNet and EVREAL's
    ``FireNet_legacy`` inherit falls back to 4 when the config has none.
    """

    def __init__(self, num_bins=5, base_num_channels=16, kernel_size=3, num_residual_blocks=2,
                 recurrent_block_type="convgru", recurrent_blocks=None, norm=None, skip_type="sum", head_skip=None,
                 num_encoders=4, **_unused):
        super().__init__()
        self.num_encoders = int(num_encoders)
        recurrent_blocks = recurrent_blocks if recurrent_blocks is not None else {"resblock": [0]}
        head_skip = (skip_type == "concat") if head_skip is None else bool(head_skip)
        self.num_bins = int(num_bins)
        self.config = dict(num_bins=self.num_bins, base_num_channels=int(base_num_channels),
                           kernel_size=int(kernel_size), num_residual_blocks=int(num_residual_blocks),
                           recurrent_block_type=str(recurrent_block_type), recurrent_blocks=recurrent_blocks,
                           norm=norm, skip_type=skip_type, head_skip=head_skip, num_encoders=self.num_encoders)
        self.net = _UNetFire(self.num_bins, int(base_num_channels), int(num_residual_blocks), int(kernel_size),
                             str(recurrent_block_type), recurrent_blocks.get("resblock", []), norm, skip_type,
                             head_skip)

    def forward(self, x, states=None):
        return self.net(x, states)


class FireNetFlat(nn.Module):
    """Refactored FireNet layout (``head``, ``G1``, ``R1``, ``G2``, ``R2``, ``pred``); no padding (EVREAL: 0 encoders)."""

    num_encoders = 0

    def __init__(self, num_bins=5, base_num_channels=16, kernel_size=3, **_unused):
        super().__init__()
        self.num_bins = int(num_bins)
        self.config = dict(num_bins=self.num_bins, base_num_channels=int(base_num_channels),
                           kernel_size=int(kernel_size))
        c, k = int(base_num_channels), int(kernel_size)
        self.head = ConvLayer(self.num_bins, c, k, padding=k // 2)
        self.G1 = ConvGRU(c, c, k)
        self.R1 = ResidualBlock(c, c)
        self.G2 = ConvGRU(c, c, k)
        self.R2 = ResidualBlock(c, c)
        self.pred = ConvLayer(c, 1, 1, activation=None)

    def forward(self, x, states=None):
        states = states if states is not None else [None, None]
        x = self.head(x)
        s1 = self.G1(x, states[0])
        x = self.R1(s1)
        s2 = self.G2(x, states[1])
        x = self.R2(s2)
        return self.pred(x), [s1, s2]
