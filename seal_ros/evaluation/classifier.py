"""The authors' precomputed text classifiers (0nandon/SEAL ``classifier/{DDD17,DSEC11,DSEC19,DSEC_PART}.pt``).

Each file is one tensor, a row per class of the benchmark's full class list
(768-d CLIP ViT-L/14@336px text space); ``test_seal.py`` loads it with
``torch.load(...).float()`` and hands ``classifier[INSTANCE_ID]`` to the model
unchanged (no re-normalisation). ``models/manifest.yaml`` lists the files
(``seal_classifier_<benchmark>``) with their source.
"""
from __future__ import annotations

from pathlib import Path

import torch

from seal_ros.evaluation.benchmarks import Benchmark

__all__ = ["load_classifier", "classifier_file"]


def load_classifier(path, benchmark: Benchmark) -> torch.Tensor:
    """(len(instance classes), D) float32 rows of ``path`` for the benchmark's instance
    classes, as given; ValueError / FileNotFoundError with one line otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"classifier {path} not found")
    try:
        rows = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"classifier {path}: unreadable ({exc})") from exc
    if not isinstance(rows, torch.Tensor) or rows.ndim != 2 or rows.shape[0] != benchmark.num_classes:
        shape = tuple(rows.shape) if isinstance(rows, torch.Tensor) else type(rows).__name__
        raise ValueError(f"classifier {path}: expected a ({benchmark.num_classes}, D) tensor, one row per "
                         f"{benchmark.title} class, got {shape}")
    rows = rows.float()
    if not bool(torch.isfinite(rows).all()):
        raise ValueError(f"classifier {path}: has non-finite values")
    return rows[list(benchmark.instance_ids)]


def classifier_file(benchmark: Benchmark, models_dir) -> Path:
    """Where the benchmark's classifier lives in ``models_dir`` (its manifest entry's file)."""
    from seal_ros.models.manifest import load_manifest, select

    (entry,) = select(load_manifest(), [benchmark.classifier])
    return entry.path(models_dir)
