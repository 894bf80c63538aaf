"""E2VID (Rebecq et al., TPAMI 2019) and E2VID+ (Stoffregen et al., ECCV 2020).

A UNet whose every encoder is followed by a ConvLSTM (or ConvGRU), residual
blocks at the bottleneck, sum (or concat) skips, and a 1x1 prediction layer.
Key names (``unetrecurrent.head.conv2d.weight``,
``unetrecurrent.encoders.0.recurrent_block.Gates.weight``,
``unetrecurrent.decoders.0.transposed_conv2d.weight`` ...) are those of the
published rpg_e2vid and event_cnn_minimal/EVREAL checkpoints. With the
published E2VID configuration (3 encoders, 32 base channels, ConvLSTM, 2
residual blocks) the network has about 10.7M parameters.

The only difference between the two variants at inference is the output:
E2VID ends in a sigmoid, E2VID+ (``final_activation='none'``) is clipped by
the caller; and E2VID+ is fed voxel grids without normalisation.
"""
from __future__ import annotations

from torch import nn

from .layers import ConvLayer, ResidualBlock, TransposedConvLayer, UpsampleConvLayer, _activation, skip_concat, skip_sum
from .recurrent import RecurrentConvLayer


class UNetRecurrent(nn.Module):
    def __init__(self, num_bins=5, base_num_channels=32, num_encoders=4, num_residual_blocks=2, skip_type="sum",
                 recurrent_block_type="convlstm", norm=None, use_upsample_conv=True, kernel_size=5,
                 channel_multiplier=2, final_activation="sigmoid", num_output_channels=1):
        super().__init__()
        self.num_encoders = int(num_encoders)
        self.skip_type = skip_type
        self.skip = skip_concat if skip_type == "concat" else skip_sum
        self.final_activation = _activation(final_activation)
        k = int(kernel_size)
        enc_in = [int(base_num_channels * channel_multiplier ** i) for i in range(self.num_encoders)]
        enc_out = [int(base_num_channels * channel_multiplier ** (i + 1)) for i in range(self.num_encoders)]
        self.encoder_channels = enc_out
        self.head = ConvLayer(num_bins, base_num_channels, kernel_size=k, stride=1, padding=k // 2)
        self.encoders = nn.ModuleList(
            RecurrentConvLayer(i, o, kernel_size=k, stride=2, padding=k // 2,
                               recurrent_block_type=recurrent_block_type, norm=norm)
            for i, o in zip(enc_in, enc_out))
        self.resblocks = nn.ModuleList(ResidualBlock(enc_out[-1], enc_out[-1], norm=norm)
                                       for _ in range(int(num_residual_blocks)))
        mult = 2 if skip_type == "concat" else 1
        if use_upsample_conv:
            self.decoders = nn.ModuleList(UpsampleConvLayer(mult * i, o, k, padding=k // 2, norm=norm)
                                          for i, o in zip(reversed(enc_out), reversed(enc_in)))
        else:
            self.decoders = nn.ModuleList(TransposedConvLayer(mult * i, o, k, padding=k // 2, norm=norm)
                                          for i, o in zip(reversed(enc_out), reversed(enc_in)))
        self.pred = ConvLayer(mult * int(base_num_channels), num_output_channels, 1, activation=None, norm=norm)

    def encode(self, x, states=None):
        """Head and recurrent encoders: ``(head, blocks, states)``; ``blocks[-1]`` is the bottleneck input."""
        if states is None:
            states = [None] * self.num_encoders
        head = self.head(x)
        x = head
        blocks, new_states = [], []
        for encoder, prev in zip(self.encoders, states):
            x, s = encoder(x, prev)
            blocks.append(x)
            new_states.append(s)
        return head, blocks, new_states

    def decode(self, x, head, blocks):
        """Residual blocks, decoders with skips, prediction (with the final activation)."""
        for block in self.resblocks:
            x = block(x)
        for i, decoder in enumerate(self.decoders):
            x = decoder(self.skip(x, blocks[self.num_encoders - i - 1]))
        img = self.pred(self.skip(x, head))
        return self.final_activation(img) if self.final_activation is not None else img

    def forward(self, x, states=None):
        head, blocks, states = self.encode(x, states)
        return self.decode(blocks[-1], head, blocks), states


class E2VIDRecurrent(nn.Module):
    """E2VID / E2VID+ with the published ``unetrecurrent.*`` layout.

    ``final_activation``: 'sigmoid' (E2VID, rpg_e2vid default) or 'none' (E2VID+).
    ``num_output_channels`` > 1 (event_cnn_minimal's image + flow heads): the
    image is channel 0, as EVREAL takes it.
    """

    def __init__(self, num_bins=5, base_num_channels=32, num_encoders=4, num_residual_blocks=2, skip_type="sum",
                 recurrent_block_type="convlstm", norm=None, use_upsample_conv=True, kernel_size=5,
                 channel_multiplier=2, final_activation="sigmoid", num_output_channels=1, **_unused):
        super().__init__()
        self.num_bins = int(num_bins)
        self.num_encoders = int(num_encoders)
        self.config = dict(num_bins=self.num_bins, base_num_channels=int(base_num_channels),
                           num_encoders=self.num_encoders, num_residual_blocks=int(num_residual_blocks),
                           skip_type=skip_type, recurrent_block_type=recurrent_block_type, norm=norm,
                           use_upsample_conv=bool(use_upsample_conv), kernel_size=int(kernel_size),
                           channel_multiplier=channel_multiplier, final_activation=final_activation,
                           num_output_channels=int(num_output_channels))
        self.unetrecurrent = UNetRecurrent(**self.config)

    def forward(self, x, states=None):
        return self.unetrecurrent(x, states)
