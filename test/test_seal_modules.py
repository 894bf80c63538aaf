"""SEAL building blocks on tiny configurations."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything.modeling.image_encoder import Attention as SamAttention

from seal_ros.seal.build import CONFIGS, build_eventsam, build_seal
from seal_ros.seal.checkpoint import load_eventsam
from seal_ros.seal.modeling.attention import RelPosAttention, use_fused_attention
from seal_ros.seal.modeling.enhance import MaskedCrossAttention, mask_to_grid
from seal_ros.seal.modeling.fusion import FusionBlock
from seal_ros.seal.modeling.mask_tokens import predict_masks_with_tokens
from seal_ros.seal.modeling.spatial import masks_to_boxes


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return build_seal("tiny")


def _prompts(sam, n=3):
    g = torch.Generator().manual_seed(1)
    s = sam.image_encoder.img_size
    xy = torch.rand(n, 2, generator=g) * s / 2
    boxes = torch.cat([xy, xy + s / 3], dim=1)
    return sam.prompt_encoder(points=None, boxes=boxes, masks=None)


def test_mask_token_capture_matches_sam_forward(tiny):
    sam = tiny.eventsam
    emb = torch.randn(1, 32, 8, 8)
    pe = sam.prompt_encoder.get_dense_pe()
    sparse, dense = _prompts(sam)
    captured = {}

    def keep(module, inputs, output):
        captured["hs"], captured["src"] = output

    hook = sam.mask_decoder.transformer.register_forward_hook(keep)
    with torch.no_grad():
        ref_multi = sam.mask_decoder(emb, pe, sparse, dense, multimask_output=True)
        ref_single = sam.mask_decoder(emb, pe, sparse, dense, multimask_output=False)
        masks, iou, tokens = predict_masks_with_tokens(sam.mask_decoder, emb, pe, sparse, dense)
    hook.remove()
    assert torch.equal(masks[:, 1:], ref_multi[0]) and torch.equal(iou[:, 1:], ref_multi[1])
    assert torch.equal(masks[:, :1], ref_single[0]) and torch.equal(iou[:, :1], ref_single[1])
    # tokens are the transformer output hs[:, 1:5] of SAM's own pass
    assert torch.equal(tokens, captured["hs"][:, 1:5])
    # and they are what the hypernetworks turn into the masks
    with torch.no_grad():
        src = captured["src"].transpose(1, 2).reshape(3, 32, 8, 8)
        up = sam.mask_decoder.output_upscaling(src).flatten(2)
        hyper = torch.stack([sam.mask_decoder.output_hypernetworks_mlps[i](tokens[:, i])
                             for i in range(4)], 1)
    assert torch.allclose((hyper @ up).view(3, 4, 32, 32), masks, atol=1e-5)


def test_one_image_is_broadcast_to_every_prompt_with_sams_results(tiny):
    """One image and SAM's expanded no-mask embedding: the image side is passed once (no copies per
    prompt); the results equal SAM's forward, and the copying path on the same inputs."""
    from seal_ros.seal.modeling.mask_tokens import _same_for_all

    sam = tiny.eventsam
    emb = torch.randn(1, 32, 8, 8)
    pe = sam.prompt_encoder.get_dense_pe()
    sparse, dense = _prompts(sam, n=5)
    assert _same_for_all(dense) and not _same_for_all(dense.contiguous())
    seen = {}
    hook = sam.mask_decoder.transformer.register_forward_hook(
        lambda m, inputs, out: seen.setdefault("image_batch", []).append(inputs[0].shape[0]))
    with torch.no_grad():
        shared = predict_masks_with_tokens(sam.mask_decoder, emb, pe, sparse, dense)
        copied = predict_masks_with_tokens(sam.mask_decoder, emb, pe, sparse, dense.contiguous())
        ref = sam.mask_decoder(emb, pe, sparse, dense.contiguous(), multimask_output=True)
    hook.remove()
    assert seen["image_batch"] == [1, 5, 5]  # ours once for all prompts; the copying path and SAM per prompt
    for a, b in zip(shared, copied):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(shared[0][:, 1:], ref[0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(shared[1][:, 1:], ref[1], rtol=1e-6, atol=1e-6)


def test_seal_decode_returns_multimask_tokens(tiny):
    emb = torch.randn(1, 32, 8, 8)
    boxes = torch.tensor([[10.0, 10.0, 80.0, 60.0], [0.0, 0.0, 127.0, 127.0]])
    with torch.no_grad():
        low, iou, tok = tiny.decode(emb, boxes=boxes)
        sparse, dense = tiny.eventsam.prompt_encoder(points=None, boxes=boxes, masks=None)
        ref_m, ref_i = tiny.eventsam.mask_decoder(emb, tiny.eventsam.prompt_encoder.get_dense_pe(),
                                                  sparse, dense, multimask_output=True)
    assert low.shape == (2, 3, 32, 32) and tok.shape == (2, 3, 32)
    assert torch.equal(low, ref_m) and torch.equal(iou, ref_i)


def test_fused_attention_equals_eager_and_keeps_state(tiny):
    torch.manual_seed(2)
    att = RelPosAttention(32, 2, (4, 4))
    torch.nn.init.normal_(att.rel_pos_h)
    torch.nn.init.normal_(att.rel_pos_w)
    x = torch.randn(3, 4, 4, 32)
    eager = att(x)
    att.fused = True
    assert torch.allclose(att(x), eager, atol=1e-5)

    enc = tiny.eventsam.image_encoder
    for blk in enc.blocks:
        torch.nn.init.normal_(blk.attn.rel_pos_h)
    keys = list(tiny.state_dict().keys())
    img = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        ref = tiny.encode_image(img)
        n = use_fused_attention(tiny)
        out = tiny.encode_image(img)
    assert n == len(enc.blocks) + len(tiny.neck.blocks)
    assert all(isinstance(b.attn, RelPosAttention) and b.attn.fused for b in enc.blocks)
    assert list(tiny.state_dict().keys()) == keys
    assert torch.allclose(out[0], ref[0], atol=1e-4) and torch.allclose(out[1], ref[1], atol=1e-4)


def test_fusion_block_has_no_residual_after_self_attention_alone():
    torch.manual_seed(3)
    blk = FusionBlock(32, 2, 64, window_size=4, grid_size=8).eval()
    x, text = torch.randn(1, 8, 8, 32), torch.randn(1, 5, 32)
    with torch.no_grad():
        full = blk(x, text)
        other_text = blk(x, torch.randn(1, 5, 32))
        blk.cross_attn.out_proj.weight.zero_()
        blk.cross_attn.out_proj.bias.zero_()
        # without the cross-attention the self-attention must not reach the output
        blk.attn.proj.bias.fill_(5.0)
        cut = blk(x, text)
        ref = x + blk.mlp(blk.norm2(x))
    assert not torch.allclose(full, other_text)  # the vocabulary changes the features
    assert torch.allclose(cut, ref, atol=1e-6)


def test_masks_to_boxes_matches_numpy():
    rng = np.random.default_rng(0)
    masks = np.zeros((4, 20, 30), bool)
    masks[0, 3:9, 5:17] = True
    masks[1, 0, 0] = True
    masks[2] = rng.random((20, 30)) > 0.9
    boxes = masks_to_boxes(torch.from_numpy(masks)).numpy()
    for m, b in zip(masks[:3], boxes[:3]):
        ys, xs = np.nonzero(m)
        assert tuple(b) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert tuple(boxes[3]) == (0, 0, 30, 20)  # empty -> whole frame


def test_masked_cross_attention_only_sees_inside_the_mask():
    torch.manual_seed(4)
    fuse = MaskedCrossAttention(32, 2, 64).eval()
    mask = torch.zeros(1, 64, 64, dtype=torch.bool)
    mask[0, 5:20, 5:20] = True
    allowed = mask_to_grid(mask, 8).flatten(1)
    assert allowed.view(8, 8)[0:3, 0:3].all() and allowed.sum() == 9
    q, feats = torch.randn(1, 32), torch.randn(1, 64, 32)
    changed_out, changed_in = feats.clone(), feats.clone()
    changed_out[0, 63] += 10.0  # cell (7, 7): outside
    changed_in[0, 9] += 10.0  # cell (1, 1): inside
    with torch.no_grad():
        base = fuse(q, feats, feats, allowed)
        assert torch.allclose(fuse(q, changed_out, changed_out, allowed), base, atol=1e-6)
        assert not torch.allclose(fuse(q, changed_in, changed_in, allowed), base, atol=1e-3)
        empty = fuse(q, feats, feats, torch.zeros_like(allowed))
    assert torch.isfinite(empty).all()


def test_pe_layer_comes_from_the_checkpoint():
    torch.manual_seed(5)
    a = build_seal("tiny")
    torch.manual_seed(6)
    b = build_seal("tiny")
    assert not torch.equal(a.pe_layer.positional_encoding_gaussian_matrix,
                           b.pe_layer.positional_encoding_gaussian_matrix)
    assert "pe_layer.positional_encoding_gaussian_matrix" in a.state_dict()
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.pe_layer((8, 8)), b.pe_layer((8, 8)))


def test_stock_sam_resize_equals_sams_runtime_interpolation():
    """A checkpoint made for twice the input size loads into the smaller model and its
    global attention behaves as SAM itself would with the long rel_pos tables."""
    torch.manual_seed(7)
    big = build_eventsam("tiny", image_size=256)  # 16x16 tokens, "stock"
    for blk in big.image_encoder.blocks:
        torch.nn.init.normal_(blk.attn.rel_pos_h)
        torch.nn.init.normal_(blk.attn.rel_pos_w)
    small = build_eventsam("tiny")  # 8x8 tokens
    load_eventsam(small, None, big.state_dict())
    g = CONFIGS["tiny"].encoder_global[0]
    assert small.image_encoder.blocks[g].attn.rel_pos_h.shape == (15, 16)
    x = torch.randn(2, 8, 8, 32)
    with torch.no_grad():
        # SAM interpolates a too-long table at run time: same result as the resized one
        assert torch.allclose(big.image_encoder.blocks[g].attn(x), small.image_encoder.blocks[g].attn(x),
                              atol=1e-5)
        # windowed tables do not depend on the image size
        assert torch.equal(big.image_encoder.blocks[0].attn.rel_pos_h,
                           small.image_encoder.blocks[0].attn.rel_pos_h)
    pe = big.image_encoder.pos_embed.detach()
    big.image_encoder.pos_embed.data[:] = 0.25
    load_eventsam(small, None, big.state_dict())
    assert torch.allclose(small.image_encoder.pos_embed, torch.tensor(0.25))
    assert pe.shape == (1, 16, 16, 32)
    assert isinstance(small.image_encoder.blocks[0].attn, SamAttention)


def test_forward_tiny_shapes_and_probabilities(tiny):
    text = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    with torch.no_grad():
        out = tiny(torch.randn(1, 3, 128, 128), torch.tensor([[8.0, 8.0, 100.0, 90.0]]), text)
    assert out["masks"].shape == (1, 3, 128, 128) and out["masks"].dtype == torch.bool
    assert out["iou"].shape == (1, 3)
    assert torch.allclose(out["probs"].sum(-1), torch.ones(1, 3), atol=1e-5)
