"""Length-bucketed batch plans and padding: the fast path's answer to padding waste.

A plan is a pure function of (lengths, batch size, seed, epoch), so a resumed run replays
the same batches from the same position.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def plan_batches(lengths: np.ndarray, batch_size: int, *, seed: int, epoch: int,
                 chunk_batches: int = 50, shuffle: bool = True) -> list[np.ndarray]:
    """Index arrays, one per batch: shuffled, then sorted by length inside chunks of
    `chunk_batches` batches so that each batch holds similar lengths, then batch order shuffled."""
    n = len(lengths)
    if n == 0:
        return []
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n) if shuffle else np.arange(n)
    span = batch_size * chunk_batches
    batches: list[np.ndarray] = []
    for lo in range(0, n, span):
        part = order[lo:lo + span]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def bucket_length(length: int, multiple: int | None, cap: int) -> int:
    """The padded length: exact on CPU (multiple None), else rounded up to a few fixed shapes."""
    if not multiple:
        return length
    return min(cap, int(math.ceil(length / multiple) * multiple))


def collate_tokens(features: list[dict], idx: np.ndarray, *, pad_id: int,
                   multiple: int | None = None, cap: int = 512) -> dict[str, torch.Tensor]:
    """input_ids / attention_mask / labels tensors (B, T) for token-classification windows."""
    rows = [features[i] for i in idx]
    t = bucket_length(max(len(r["input_ids"]) for r in rows), multiple, cap)
    ids = np.full((len(rows), t), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), t), dtype=np.int64)
    labels = np.full((len(rows), t), -100, dtype=np.int64)
    for b, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[b, :n] = r["input_ids"]
        mask[b, :n] = 1
        if "labels" in r:
            labels[b, :n] = r["labels"]
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
            "labels": torch.from_numpy(labels)}


def collate_texts(features: list[dict], idx: np.ndarray, *, pad_id: int, multi_label: bool,
                  multiple: int | None = None, cap: int = 512) -> dict[str, torch.Tensor]:
    """input_ids / attention_mask (B, T), token_type_ids for text pairs, and labels: (B,) class
    ids, multi-hot (B, C), or (B,) float regression targets."""
    out = collate_tokens([{"input_ids": features[i]["input_ids"]} for i in idx],
                         np.arange(len(idx)), pad_id=pad_id, multiple=multiple, cap=cap)
    if "token_type_ids" in features[idx[0]]:
        width = out["input_ids"].shape[1]
        types = torch.zeros((len(idx), width), dtype=torch.int64)
        for row, i in enumerate(idx):
            t = features[i]["token_type_ids"][:width]
            types[row, : len(t)] = torch.tensor(t, dtype=torch.int64)
        out["token_type_ids"] = types
    if "labels" in features[idx[0]]:
        first = features[idx[0]]["labels"]
        dtype = torch.float32 if multi_label or isinstance(first, float) else torch.int64
        out["labels"] = torch.tensor([features[i]["labels"] for i in idx], dtype=dtype)
    else:
        out.pop("labels")
    return out


class ResidentSplit:
    """A split's features as padded tensors kept on the training device, so a step gathers
    its batch there instead of collating on the host and copying (the GPU fast path)."""

    def __init__(self, features: list[dict], *, pad_id: int, device: torch.device,
                 multiple: int | None, cap: int, label_shape: str = "tokens",
                 multi_label: bool = False):
        self.lengths = np.array([len(f["input_ids"]) for f in features], dtype=np.int64)
        self.multiple, self.cap, self.pad_id = multiple, cap, pad_id
        width = int(self.lengths.max()) if len(features) else 1
        if label_shape == "tokens":
            host = collate_tokens(features, np.arange(len(features)), pad_id=pad_id)
        else:
            host = collate_texts(features, np.arange(len(features)), pad_id=pad_id,
                                 multi_label=multi_label)
        self.input_ids = host["input_ids"][:, :width].to(torch.int32).to(device)  # (N, W)
        types = host.get("token_type_ids")  # text pairs: segment 0 / 1
        self.token_type_ids = None if types is None else \
            types[:, :width].to(torch.int8).to(device)  # (N, W)
        self.labels = host["labels"].to(device)  # (N, W) tokens, (N,) or (N, C) texts
        self.token_labels = label_shape == "tokens"
        self.device = device
        self.lengths_dev = torch.from_numpy(self.lengths).to(device)  # (N,)

    def bucket(self, idx: np.ndarray) -> int:
        """The padded length of the batch of rows `idx`."""
        return bucket_length(int(self.lengths[idx].max()), self.multiple, self.cap)

    def index_tensors(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Row indices and their lengths as int64 tensors on the device."""
        rows = torch.from_numpy(np.ascontiguousarray(idx, dtype=np.int64))
        lengths = torch.from_numpy(np.ascontiguousarray(self.lengths[idx]))
        return (rows.to(self.device, non_blocking=True), lengths.to(self.device, non_blocking=True))

    def gather(self, rows: torch.Tensor, lengths: torch.Tensor, t: int) -> dict[str, torch.Tensor]:
        """input_ids / attention_mask / labels of `rows` padded to length t: device ops only,
        with shapes fixed by (len(rows), t), so a CUDA graph can capture them."""
        width = self.input_ids.shape[1]
        ids = self.input_ids.index_select(0, rows)[:, :t].long()  # (B, T)
        if t > width:  # bucket rounding past the longest feature
            ids = torch.nn.functional.pad(ids, (0, t - width), value=self.pad_id)
        mask = (torch.arange(t, device=self.device)[None, :] < lengths[:, None]).long()
        labels = self.labels.index_select(0, rows)
        if self.token_labels:
            labels = labels[:, :t]
            if t > width:
                labels = torch.nn.functional.pad(labels, (0, t - width), value=-100)
        out = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        if self.token_type_ids is not None:
            types = self.token_type_ids.index_select(0, rows)[:, :t].long()
            if t > width:
                types = torch.nn.functional.pad(types, (0, t - width), value=0)
            out["token_type_ids"] = types
        return out

    def batch(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        """input_ids / attention_mask / labels for rows `idx`, padded to the bucket length."""
        rows, lengths = self.index_tensors(idx)
        return self.gather(rows, lengths, self.bucket(idx))
