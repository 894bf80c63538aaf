"""SAM's mask decoder, returning the transformer's mask tokens too.

segment-anything's ``MaskDecoder.predict_masks`` keeps the transformer output
``hs`` to itself; SEAL needs its mask tokens (``hs[:, 1:5]``; the three
multimask ones are ``hs[:, 2:5]``).  :func:`predict_masks_with_tokens` calls the
decoder's own parts in the same order (no edit of the installed library) and
returns masks, IoU predictions and tokens; the tests check masks and IoU are
exactly those of SAM's own forward.

One difference in how, not what: SAM copies the image embedding and its
positional encoding once per prompt (``repeat_interleave``) before the
two-way transformer. When every prompt sees the same image and the same dense
embedding (one image, no mask prompts: the dense embedding is SAM's
``no_mask_embed`` expanded, stride 0), they are passed once and broadcast:
SAM's attention and the transformer's additions broadcast over the batch, so
the image side of the first block (its keys, values and image queries) is
computed once for all prompts instead of once a prompt, and no copies are
made. The arithmetic per prompt is the same.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from segment_anything.modeling.mask_decoder import MaskDecoder

__all__ = ["predict_masks_with_tokens"]


def predict_masks_with_tokens(
    decoder: MaskDecoder,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse_prompt_embeddings: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like ``decoder.predict_masks``; returns (masks (N, 4, h, w), iou (N, 4), tokens (N, 4, C)).

    ``image_embeddings`` is (1, C, H, W) (shared by all N prompts, as in SAM) or
    (N, C, H, W) (one image per prompt).
    """
    n = sparse_prompt_embeddings.shape[0]
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    output_tokens = output_tokens.unsqueeze(0).expand(n, -1, -1)
    tokens = torch.cat((output_tokens.to(sparse_prompt_embeddings.dtype), sparse_prompt_embeddings), dim=1)

    if image_embeddings.shape[0] == n:
        src = image_embeddings + dense_prompt_embeddings
        pos_src = torch.repeat_interleave(image_pe, n, dim=0)
    elif image_embeddings.shape[0] == 1 and _same_for_all(dense_prompt_embeddings):
        src = image_embeddings + dense_prompt_embeddings[:1]  # broadcast in the transformer
        pos_src = image_pe
    else:
        src = torch.repeat_interleave(image_embeddings, n, dim=0) + dense_prompt_embeddings
        pos_src = torch.repeat_interleave(image_pe, n, dim=0)
    _, c, h, w = src.shape

    hs, src = decoder.transformer(src, pos_src, tokens)
    iou_token_out = hs[:, 0, :]
    mask_tokens_out = hs[:, 1:(1 + decoder.num_mask_tokens), :]

    src = src.transpose(1, 2).reshape(n, c, h, w)
    upscaled = decoder.output_upscaling(src)
    hyper_in_list: List[torch.Tensor] = [
        decoder.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :])
        for i in range(decoder.num_mask_tokens)
    ]
    hyper_in = torch.stack(hyper_in_list, dim=1)
    b, c, h, w = upscaled.shape
    masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
    iou_pred = decoder.iou_prediction_head(iou_token_out)
    return masks, iou_pred, mask_tokens_out


def _same_for_all(dense: torch.Tensor) -> bool:
    """The dense embedding is one tensor for every prompt: a batch of one, or one expanded (stride 0)."""
    return dense.shape[0] == 1 or dense.stride(0) == 0
