"""Tokenise once: model inputs cached on disk, keyed by the tokenizer, the data, the labels
and the encoding parameters, so repeated runs on the same data skip tokenisation."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

KEEP = 64  # newest cache files kept per folder


def feature_key(tokenizer: Any, records: Sequence, label2id: dict[str, int] | None,
                params: dict) -> str:
    """A digest of everything the features depend on."""
    h = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    h.update((backend.to_str() if backend is not None else repr(tokenizer)).encode())
    h.update(json.dumps([label2id, params], sort_keys=True).encode())
    for r in records:
        fields = (r.tokens, r.tags) if hasattr(r, "tokens") else (r.text, r.labels)
        h.update(repr(fields).encode())
    return h.hexdigest()[:32]


def cached(cache_dir: Path | None, key: str, compute: Callable[[], list[dict]]) -> list[dict]:
    """Features from `cache_dir/<key>.json.gz`, or computed and stored there."""
    if cache_dir is None:
        return compute()
    path = Path(cache_dir) / f"{key}.json.gz"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError, EOFError):
        pass  # absent or damaged: compute again
    features = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as f:
            f.write(json.dumps(features, separators=(",", ":")).encode())
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError:
        pass  # a read-only or full disk only costs the cache
    return features


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("*.json.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)
