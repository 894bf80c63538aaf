"""Stage 2, SEAL: the fusion network and mask head learn from MHSG guidance; EventSAM frozen.

Per pair: the event image goes through the frozen EventSAM encoder; the fusion
neck attends to the batch's textual-guidance embeddings (cross-attention keys
and values); every guidance mask is prompted by its box through SAM's frozen
decoder, and the mask token of the matching multimask level (semantic: 2,
instance: 1, part: 0) with the guidance mask itself gives the event mask
feature. Loss: :func:`seal_ros.train.losses.cosine_guidance_loss`.

Export: ``OUT/seal.pt``, the whole model's state dict (the published layout,
loaded strictly by ``seal_ros.seal.checkpoint.load_seal``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from seal_ros.train.losses import cosine_guidance_loss
from seal_ros.train.mhsg import GRANULARITIES
from seal_ros.train.stages.base import Stage, model_image_size, pair_source
from seal_ros.train.trainer import atomic_save


class SealDistill(nn.Module):
    """``cache_backbone``: keep each pair's frozen-backbone outputs (bf16, host memory,
    about 2 MB a pair at ViT-B) after its first epoch; valid because inputs are not augmented."""

    def __init__(self, seal, cache_backbone: bool = False):
        super().__init__()
        self.seal = seal
        self._backbone_cache = {} if cache_backbone else None
        for p in seal.eventsam.parameters():
            p.requires_grad_(False)
        for p in seal.pe_layer.parameters():  # fixed random-Fourier matrix
            p.requires_grad_(False)

    def forward(self, batch):
        seal = self.seal
        emb, vit = self._backbone(batch)
        text = batch["text_bank"]
        fused = seal.fuse_text(vit, text.to(vit.dtype))
        # Every guidance mask of the batch, all granularities, in one decoder and one head call.
        masks, boxes, bidx, levels, gran, vis, txt = [], [], [], [], [], [], []
        for gi, (name, level) in enumerate(GRANULARITIES):
            for b, g in enumerate(batch["guidance"]):
                m, bx, gv, gt = g[name]
                k = bx.shape[0]
                if k == 0:
                    continue
                masks.append(m)
                boxes.append(bx)
                vis.append(gv)
                txt.append(gt)
                bidx.append(torch.full((k,), b, dtype=torch.long, device=bx.device))
                levels.append(torch.full((k,), level, dtype=torch.long, device=bx.device))
                gran.append(torch.full((k,), gi, dtype=torch.long, device=bx.device))
        if not masks:  # touch every trainable parameter so DDP's gradient reduction still completes
            return fused.sum() * 0.0 + sum(p.sum() for p in self.parameters() if p.requires_grad) * 0.0, {}
        bidx, levels, gran = torch.cat(bidx), torch.cat(levels), torch.cat(gran)
        with torch.no_grad():
            _, _, tok = seal.decode(emb[bidx], boxes=torch.cat(boxes))
            tok = tok[torch.arange(tok.shape[0], device=tok.device), levels]
        f = seal.embed_masks(fused, torch.cat(masks), tok, bidx)
        vis, txt = torch.cat(vis), torch.cat(txt)
        feats, vs, ts, logs = [], [], [], {}
        for gi, (name, _) in enumerate(GRANULARITIES):
            sel = gran == gi
            if bool(sel.any()):
                feats.append(f[sel])
                vs.append(vis[sel])
                ts.append(txt[sel])
                logs[f"n_{name}"] = sel.sum().float().cpu()
        loss = cosine_guidance_loss(feats, vs, ts)
        # The loss cannot reach 0 (v != t): its minimum per mask is 2 - |v/|v| + t/|t||.
        logs["floor"] = guidance_loss_floor(vs, ts)
        logs["excess"] = loss.detach().cpu() - logs["floor"]
        return loss, logs


    @torch.no_grad()
    def _backbone(self, batch):
        cache = self._backbone_cache
        keys = [int(i) for i in batch["index"].tolist()] if cache is not None else None
        if cache is not None and all(k in cache for k in keys):
            dev = batch["event"].device
            emb = torch.stack([cache[k][0] for k in keys]).to(dev, non_blocking=True).float()
            vit = torch.stack([cache[k][1] for k in keys]).to(dev, non_blocking=True).float()
            return emb, vit
        emb, vit = self.seal.encode_image(batch["event"])
        if cache is not None:
            for b, k in enumerate(keys):
                cache[k] = (emb[b].to("cpu", torch.bfloat16), vit[b].to("cpu", torch.bfloat16))
        return emb, vit


def guidance_loss_floor(visual, textual) -> torch.Tensor:
    """The smallest value :func:`cosine_guidance_loss` can take for these targets."""
    import torch.nn.functional as F

    total = torch.zeros(())
    for v, t in zip(visual, textual):
        s = F.normalize(v.float(), dim=-1) + F.normalize(t.float(), dim=-1)
        total = total + (2 - s.norm(dim=-1)).mean().cpu()
    return total


class SealPairs(torch.utils.data.Dataset):
    def __init__(self, pairs, cache, size: int, max_masks: int):
        self.pairs, self.cache, self.size, self.max_masks = pairs, cache, size, max_masks

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        item = dict(self.pairs[i])
        g = self.cache[item["index"]]
        out = {}
        for name, _ in GRANULARITIES:
            gg = g[name]
            k = min(self.max_masks, gg.boxes.shape[0])
            out[name] = (torch.from_numpy(gg.unpack_masks(self.size)[:k]),
                         torch.from_numpy(gg.boxes[:k]).float(), gg.visual[:k].float(),
                         gg.textual[:k].float(), torch.from_numpy(gg.vocab_index[:k]))
        item["guidance"] = out
        return item


def collate_guidance(items):
    batch = {"event": torch.stack([it["event"] for it in items]),
             "index": torch.tensor([it["index"] for it in items]),
             "guidance": [], }
    bank, seen = [], {}
    for it in items:
        g = {}
        for name, (m, boxes, v, t, vidx) in it["guidance"].items():
            g[name] = (m, boxes, v, t)
            for row, vi in zip(t, vidx.tolist()):
                key = ("v", vi) if vi >= 0 else ("e", tuple(row.tolist()))
                if key not in seen:
                    seen[key] = len(bank)
                    bank.append(row)
        batch["guidance"].append(g)
    batch["text_bank"] = torch.stack(bank) if bank else torch.zeros(1, items[0]["guidance"][
        GRANULARITIES[0][0]][2].shape[-1] or 1)
    return batch


def build_guided_dataset(stage, size: int):
    """Pairs + their guidance cache (rank 0 builds it, other ranks wait)."""
    import torch.distributed as dist

    from seal_ros.datasets.pairs import TrainPairs
    from seal_ros.train.guidance import ensure_guidance, guidance_settings

    src = pair_source(stage.data_cfg)
    g = guidance_settings(stage.model_cfg["guidance"])
    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    if distributed and rank != 0:
        dist.barrier()
    cache = ensure_guidance(g, src, size, stage.cfg.out_dir, progress=stage.cfg.train.progress and rank == 0)
    if distributed and rank == 0:
        dist.barrier()
    return TrainPairs(src, size, repeat=int(stage.data_cfg["repeat"])), cache


class SealStage(Stage):
    name = "seal"
    export_name = "seal.pt"
    model_defaults = {"size": "vit_b", "overrides": {}, "eventsam_checkpoint": None,
                      "sam_checkpoint": None, "init_checkpoint": None, "max_masks": 16,
                      "fused_attention": True, "cache_backbone": False, "guidance": {}}

    def build_module(self, device):
        from seal_ros.seal.build import build_seal
        from seal_ros.seal.checkpoint import load_eventsam, load_seal

        m = self.model_cfg
        model_image_size(m)  # validates the size name
        seal = build_seal(m["size"], **dict(m["overrides"]))
        if m["init_checkpoint"]:
            load_seal(seal, m["init_checkpoint"])
        elif m["eventsam_checkpoint"] or m["sam_checkpoint"]:
            load_eventsam(seal.eventsam, eventsam_path=m["eventsam_checkpoint"], sam_path=m["sam_checkpoint"])
        if m["fused_attention"]:  # SDPA with the relative-position bias: same maths, 1.7x faster on a GPU
            from seal_ros.seal.accel import optimize_model
            optimize_model(seal, fused_attention=True)
        return SealDistill(seal, cache_backbone=bool(m["cache_backbone"])).to(device)

    def build_dataset(self):
        size = model_image_size(self.model_cfg)
        pairs, cache = build_guided_dataset(self, size)
        return SealPairs(pairs, cache, size, int(self.model_cfg["max_masks"]))

    def collate(self, items):
        return collate_guidance(items)

    def on_train_mode(self, module):
        module.seal.eventsam.eval()

    def export(self, module, out_dir) -> Path:
        return atomic_save({k: v.detach().cpu() for k, v in module.seal.state_dict().items()},
                           self.export_path(out_dir))
