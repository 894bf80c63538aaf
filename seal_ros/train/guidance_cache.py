"""On-disk guidance cache: shards of MHSG results, resumable after an interruption.

Layout of ``DIR``::

    manifest.json        settings (must match to reuse), number of samples, shard size
    shard_000000.pt      {"indices": [...], "items": [{granularity: GranularityGuidance-as-dict}]}
    ...

A shard file appears (atomically, by rename) only once complete; a restarted
run skips every shard already on disk, so an interrupted build continues where
it stopped. A manifest with other settings is refused (delete the directory or
pass another one).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import torch

from seal_ros.train.mhsg import GranularityGuidance


class CacheMismatch(RuntimeError):
    pass


def _shard_path(root: Path, k: int) -> Path:
    return root / f"shard_{k:06d}.pt"


def build_cache(root, num_samples: int, compute: Callable[[int], dict], settings: dict,
                shard_size: int = 64, progress: bool = True,
                stop_after_shards: Optional[int] = None) -> dict:
    """Compute ``compute(i)`` for every sample not yet cached; returns a summary.

    ``stop_after_shards`` stops after writing that many new shards (to emulate
    an interruption in tests; a KeyboardInterrupt or crash behaves the same)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"version": 1, "num_samples": int(num_samples), "shard_size": int(shard_size),
                "settings": settings}
    mpath = root / "manifest.json"
    if mpath.exists():
        old = json.loads(mpath.read_text())
        if old != json.loads(json.dumps(manifest)):
            raise CacheMismatch(f"{root} holds guidance built with other settings; "
                                f"use another directory or delete it")
    else:
        tmp = mpath.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, mpath)
    n_shards = (num_samples + shard_size - 1) // shard_size
    todo = [k for k in range(n_shards) if not _shard_path(root, k).exists()]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=num_samples, initial=num_samples - sum(
            min(shard_size, num_samples - k * shard_size) for k in todo), desc="guidance",
            dynamic_ncols=True)
    written = 0
    try:
        for k in todo:
            if stop_after_shards is not None and written >= stop_after_shards:
                break
            idx = list(range(k * shard_size, min(num_samples, (k + 1) * shard_size)))
            items = []
            for i in idx:
                g = compute(i)
                items.append({name: asdict(v) for name, v in g.items()})
                if bar is not None:
                    bar.update(1)
            path = _shard_path(root, k)
            tmp = path.with_name(path.name + ".tmp")
            torch.save({"indices": idx, "items": items}, tmp)
            os.replace(tmp, path)
            written += 1
    finally:
        if bar is not None:
            bar.close()
    done = sum(_shard_path(root, k).exists() for k in range(n_shards))
    return {"shards": n_shards, "done": done, "written": written, "complete": done == n_shards}


class GuidanceCache:
    """Read access: ``cache[i]`` -> {granularity: GranularityGuidance}."""

    def __init__(self, root):
        self.root = Path(root)
        mpath = self.root / "manifest.json"
        if not mpath.exists():
            raise FileNotFoundError(f"no guidance cache at {self.root} (manifest.json missing)")
        self.manifest = json.loads(mpath.read_text())
        self.num_samples = int(self.manifest["num_samples"])
        self.shard_size = int(self.manifest["shard_size"])
        n_shards = (self.num_samples + self.shard_size - 1) // self.shard_size
        missing = [k for k in range(n_shards) if not _shard_path(self.root, k).exists()]
        if missing:
            raise RuntimeError(f"guidance cache {self.root} is incomplete ({len(missing)} of "
                               f"{n_shards} shards missing): run the guidance build again to resume")
        self._shard = (None, None)

    def __len__(self):
        return self.num_samples

    @property
    def settings(self) -> dict:
        return self.manifest["settings"]

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.num_samples:
            raise IndexError(i)
        k = i // self.shard_size
        if self._shard[0] != k:
            self._shard = (k, torch.load(_shard_path(self.root, k), weights_only=False))
        item = self._shard[1]["items"][i - k * self.shard_size]
        return {name: GranularityGuidance(**d) for name, d in item.items()}

    def __getstate__(self):
        st = dict(self.__dict__)
        st["_shard"] = (None, None)
        return st
