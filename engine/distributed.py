"""Data-parallel training over several devices with torch.distributed (DDP).

A run with num_devices > 1 is started by torchrun (`launch_command`); every process runs the
same loop on its share of each global batch, gradients are averaged by DDP, and only rank 0
evaluates, writes the run folder and yields events to the worker.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class Dist:
    """This process's place in the group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init(device_kind: str) -> Dist:
    """Join the process group torchrun set up (gloo on CPU, nccl on GPUs); no-op when alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_kind == "cuda":
        torch.cuda.set_device(local)
    return Dist(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local)


def shard(idx: np.ndarray, ctx: Dist) -> np.ndarray:
    """This rank's rows of a global batch (every rank gets at least one row)."""
    if not ctx.enabled:
        return idx
    part = idx[ctx.rank::ctx.world]
    return part if len(part) else idx[:1]


def loss_scale(counts: np.ndarray, local: np.ndarray, global_idx: np.ndarray, ctx: Dist) -> float:
    """Factor turning a rank's mean loss into its share of the global mean, so that DDP's
    gradient average equals the single-process gradient of the whole batch."""
    if not ctx.enabled:
        return 1.0
    total = counts[global_idx].sum()
    return float(counts[local].sum() * ctx.world / total) if total else 1.0


def agree(flag: bool, ctx: Dist) -> bool:
    """True on every rank when any rank says true (stop requests)."""
    if not ctx.enabled:
        return flag
    import torch.distributed as dist

    t = torch.tensor([int(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def from_main(flag: bool, ctx: Dist) -> bool:
    """Rank 0's value of `flag` on every rank (early-stopping decisions)."""
    if not ctx.enabled:
        return flag
    import torch.distributed as dist

    t = torch.tensor([int(flag)])
    dist.broadcast(t, src=0)
    return bool(t.item())


def mean(value: torch.Tensor, ctx: Dist) -> torch.Tensor:
    """The average of `value` over ranks (for logging the global loss)."""
    if not ctx.enabled:
        return value
    import torch.distributed as dist

    out = value.detach().clone()
    dist.all_reduce(out)
    return out / ctx.world


def finish(ctx: Dist) -> None:
    if ctx.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def launch_command(run_dir: Path, num_devices: int) -> list[str]:
    """The worker command: plain for one device, torchrun with one process per device else."""
    if num_devices <= 1:
        return [sys.executable, "-m", "engine.worker", str(run_dir)]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={num_devices}", "-m", "engine.worker", str(run_dir)]
