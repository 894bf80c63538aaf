"""Training stages: ``eventsam`` (stage 1), ``seal`` (stage 2), ``e2v`` (Semantic-E2VID)."""
from __future__ import annotations

from seal_ros.train.config import TrainConfig


def make_stage(cfg: TrainConfig):
    if cfg.stage == "eventsam":
        from .eventsam import EventSamStage
        return EventSamStage(cfg)
    if cfg.stage == "seal":
        from .seal import SealStage
        return SealStage(cfg)
    if cfg.stage == "e2v":
        from .e2v import E2VStage
        return E2VStage(cfg)
    raise ValueError(f"unknown stage {cfg.stage!r}")
