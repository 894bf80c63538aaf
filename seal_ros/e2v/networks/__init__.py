"""Reconstruction networks and a registry of builders by published ``arch`` name."""
from __future__ import annotations

from .e2vid import E2VIDRecurrent, UNetRecurrent  # noqa: F401
from .firenet import FireNet, FireNetFlat  # noqa: F401
from .semantic_e2vid import SemanticE2VID  # noqa: F401

# ``arch`` (as stored in checkpoints) -> class. Never resolved with eval.
ARCHS = {
    "FireNet": FireNet,
    "FireNet_legacy": FireNet,
    "FireNetFlat": FireNetFlat,
    "E2VIDRecurrent": E2VIDRecurrent,
    "E2VID": E2VIDRecurrent,
    "SemanticE2VID": SemanticE2VID,
}

# method name -> (arch, default constructor kwargs, normalise the voxel grid?)
METHODS = {
    "firenet": ("FireNet", dict(num_bins=5, base_num_channels=16, kernel_size=3), True),
    "firenet_plus": ("FireNet", dict(num_bins=5, base_num_channels=16, kernel_size=3), False),
    "e2vid": ("E2VIDRecurrent", dict(num_bins=5, base_num_channels=32, num_encoders=3, num_residual_blocks=2,
                                     recurrent_block_type="convlstm", use_upsample_conv=False, norm=None,
                                     final_activation="sigmoid"), True),
    "e2vid_plus": ("E2VIDRecurrent", dict(num_bins=5, base_num_channels=32, num_encoders=3, num_residual_blocks=2,
                                          recurrent_block_type="convlstm", use_upsample_conv=True, norm=None,
                                          final_activation="none"), False),
    # SSL-E2VID (Paredes-Valles & de Croon, CVPR 2021): E2VID+'s architecture, published as a bare state dict
    "ssl_e2vid": ("E2VIDRecurrent", dict(num_bins=5, base_num_channels=32, num_encoders=3, num_residual_blocks=2,
                                         recurrent_block_type="convlstm", use_upsample_conv=True, norm=None,
                                         kernel_size=5, final_activation="none"), False),
    "semantic_e2vid": ("SemanticE2VID", dict(num_bins=5, base_num_channels=32, num_encoders=3), True),
}


def build(method: str, **overrides):
    """A freshly initialised (random) network for ``method`` (tests, training)."""
    arch, kwargs, _ = METHODS[method]
    return ARCHS[arch](**{**kwargs, **overrides})
