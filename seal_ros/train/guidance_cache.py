"""On-disk guidance cache: shards of MHSG results, keyed by what produced them.

Layout of a cache directory (``ROOT/<key>``, ``key`` = the first 16 hex digits
of the SHA-256 of the settings, see :func:`settings_key`)::

    manifest.json        key, settings, number of samples, shard size, format
    shard_000000.npz     arrays only (NumPy ``.npz``, read with allow_pickle=False):
                         "<i>/<granularity>/<field>" for every sample i of the shard
    ...

No file of a cache carries code: shards are plain arrays (names are Unicode
arrays) and the manifest is JSON. A shard appears (atomically, by rename)
only once complete; a restarted build skips every shard on disk, so an
interrupted build continues where it stopped. A directory whose manifest has
another key is stale: it is refused with the settings that differ.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from seal_ros.train.mhsg import GRANULARITIES, GranularityGuidance

FORMAT = 2
_ARRAYS = ("masks", "visual", "short", "long", "vocab_index", "scores")
_STRINGS = ("names", "long_names")


class CacheMismatch(RuntimeError):
    """A cache directory built by other settings, or incomplete / damaged."""


def settings_key(settings: dict) -> str:
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _shard_path(root: Path, k: int) -> Path:
    return root / f"shard_{k:06d}.npz"


def _diff(a: dict, b: dict) -> str:
    keys = sorted(set(a) | set(b))
    diff = [k for k in keys if json.dumps(a.get(k), sort_keys=True, default=str)
            != json.dumps(b.get(k), sort_keys=True, default=str)]
    return ", ".join(diff) or "format"


def check_manifest(root: Path, settings: dict) -> Optional[dict]:
    """The manifest of ``root`` if it was built with ``settings``; None when absent;
    :class:`CacheMismatch` (naming the settings that differ) when stale."""
    mpath = Path(root) / "manifest.json"
    if not mpath.exists():
        return None
    try:
        old = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise CacheMismatch(f"guidance cache {root}: unreadable manifest ({exc}); delete the directory") from exc
    if old.get("format") != FORMAT or old.get("key") != settings_key(settings):
        raise CacheMismatch(f"guidance cache {root} is stale: built with other settings (differs in: "
                            f"{_diff(old.get('settings', {}), settings)}); delete it or point "
                            f"guidance.cache_dir elsewhere")
    return old


def _encode(i: int, item: dict) -> dict:
    out = {}
    for name, g in item.items():
        p = f"{i}/{name}/"
        for f in _ARRAYS:
            out[p + f] = np.asarray(getattr(g, f))
        for f in _STRINGS:
            out[p + f] = np.array([str(s) for s in getattr(g, f)], dtype=str)
        out[p + "size"] = np.array([g.height, g.width], np.int64)
    return out


def _decode(z, i: int) -> dict:
    out = {}
    for name, _ in GRANULARITIES:
        p = f"{i}/{name}/"
        h, w = (int(v) for v in z[p + "size"])
        kw = {f: z[p + f] for f in _ARRAYS}
        kw.update({f: [str(s) for s in z[p + f]] for f in _STRINGS})
        out[name] = GranularityGuidance(height=h, width=w, **kw)
    return out


def build_cache(root, num_samples: int, compute: Callable[[int], dict], settings: dict,
                shard_size: int = 64, progress: bool = True,
                stop_after_shards: Optional[int] = None) -> dict:
    """Compute ``compute(i)`` for every sample not yet cached; returns a summary.

    ``stop_after_shards`` stops after writing that many new shards (to emulate
    an interruption in tests; a KeyboardInterrupt or crash behaves the same)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if check_manifest(root, settings) is None:
        manifest = {"format": FORMAT, "key": settings_key(settings), "num_samples": int(num_samples),
                    "shard_size": int(shard_size), "settings": settings}
        tmp = root / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=2, default=str))
        os.replace(tmp, root / "manifest.json")
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
            arrays = {}
            for i in range(k * shard_size, min(num_samples, (k + 1) * shard_size)):
                arrays.update(_encode(i - k * shard_size, compute(i)))
                if bar is not None:
                    bar.update(1)
            path = _shard_path(root, k)
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
            written += 1
    finally:
        if bar is not None:
            bar.close()
    done = sum(_shard_path(root, k).exists() for k in range(n_shards))
    return {"shards": n_shards, "done": done, "written": written, "complete": done == n_shards}


class GuidanceCache:
    """Read access: ``cache[i]`` -> {granularity: GranularityGuidance}."""

    def __init__(self, root, settings: Optional[dict] = None):
        self.root = Path(root)
        if settings is not None:
            self.manifest = check_manifest(self.root, settings)
        else:
            try:
                self.manifest = json.loads((self.root / "manifest.json").read_text())
            except (OSError, ValueError):
                self.manifest = None
        if self.manifest is None:
            raise CacheMismatch(f"no guidance cache at {self.root} (manifest.json missing)")
        self.num_samples = int(self.manifest["num_samples"])
        self.shard_size = int(self.manifest["shard_size"])
        n_shards = (self.num_samples + self.shard_size - 1) // self.shard_size
        missing = [k for k in range(n_shards) if not _shard_path(self.root, k).exists()]
        if missing:
            raise CacheMismatch(f"guidance cache {self.root} is incomplete ({len(missing)} of {n_shards} "
                                f"shards missing, first {_shard_path(self.root, missing[0]).name}): run the "
                                f"training again to build the rest")
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
            path = _shard_path(self.root, k)
            try:
                with np.load(path, allow_pickle=False) as z:
                    self._shard = (k, {name: z[name] for name in z.files})
            except (OSError, ValueError) as exc:
                raise CacheMismatch(f"guidance cache shard {path} is damaged ({exc}); delete it and run the "
                                    f"training again to rebuild it") from exc
        return _decode(self._shard[1], i - k * self.shard_size)

    def __getstate__(self):
        st = dict(self.__dict__)
        st["_shard"] = (None, None)
        return st
