"""SEAL model parts, one concept a file (segment-anything style)."""
from .attention import RelPosAttention, use_fused_attention
from .enhance import MaskedCrossAttention, PositionEmbeddingRandom
from .fusion import FusionBlock, FusionNeck
from .mask_tokens import predict_masks_with_tokens
from .seal import Seal

__all__ = ["RelPosAttention", "use_fused_attention", "MaskedCrossAttention",
           "PositionEmbeddingRandom", "FusionBlock", "FusionNeck",
           "predict_masks_with_tokens", "Seal"]
