"""The training step, run eagerly or replayed from CUDA graphs captured per batch shape.

A small encoder's step is bound by kernel launches and Python, not by the GPU: MiniLM's
forward, backward and AdamW update are ~1,000 small kernels. With `cuda_graphs` on (GPU,
fast path, one device), the first batch of each (batch size, padded length) shape runs
eagerly, the second is captured into a CUDA graph (forward + backward, gradients
accumulated into the same .grad tensors), and every later batch of that shape is a
device-to-device copy of its row indices (the epoch's order is on the GPU, see `plan`)
plus one graph replay. The optimizer update (clip + fused
AdamW + zeroing the gradients in place) is one more graph, captured after the first
update has created the optimizer state. The learning rate lives in a device tensor per
parameter group that the scheduler fills, so the replayed update follows the schedule.

What capture needs and this module provides: fixed shapes (lengths padded to multiples of
32 on GPU), fixed addresses (batches gathered inside the graph from the resident split
into static index buffers; gradients zeroed in place, never set to None), no host
synchronisation inside the step, and the same side stream for eager warm-up, capture and
replay. A capture that fails (an op that synchronises, say) turns graphs off for the rest
of the run with the reason in `stats()`, and training continues eagerly.

Measured on one H200 (bench/results/train_speed_h200_minilm.json): MiniLM on CoNLL-2003,
batch 32, bf16: 23 ms per step eager, 4.1 ms with graphs (5 shapes captured), 10.2x the
HF Trainer's tokens/s.

On CPU, with several devices, or with `cuda_graphs` off, the runner is the plain eager
step — the same code path, so CPU tests cover the step function that GPUs capture.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from typing import Callable, ContextManager, Protocol

import numpy as np
import torch

from engine.batching import ResidentSplit


def graphs_possible(device: torch.device, *, requested: bool, fast_path: bool,
                    distributed: bool) -> tuple[bool, str]:
    """Whether this run can capture its step, and why not when it cannot."""
    if not requested:
        return False, "cuda_graphs is off"
    if device.type != "cuda":
        return False, f"no CUDA device ({device.type})"
    if not fast_path:
        return False, "fast_path is off"
    if distributed:
        return False, "several processes (DDP): eager steps"
    return True, "on"


class GraphBackend(Protocol):
    """What `StepRunner` needs from a graph backend (`CudaGraphs` on a GPU; tests pass a
    stand-in that records and replays calls): `side_stream()` is a context manager the
    warm-up, capture and replay run in; `capture(fn)` returns an object whose `replay()`
    runs what `fn` did, reading the buffers' contents at replay time (it may raise, which
    turns graphs off); `synchronize()` waits for the device's queued work."""

    def side_stream(self) -> ContextManager: ...

    def capture(self, fn: Callable[[], None]): ...

    def synchronize(self) -> None: ...


class CudaGraphs:
    """Capture and replay on one side stream of `device`, all graphs sharing one memory
    pool (they never run concurrently and none reads another's intermediates)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.stream = torch.cuda.Stream(device)
        self.pool = torch.cuda.graph_pool_handle()

    @contextlib.contextmanager
    def side_stream(self):
        """Run on the capture stream (warm-up, capture and replay alike), ordered after and
        before the default stream's work without a host synchronisation."""
        main = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(main)
        with torch.cuda.stream(self.stream):
            yield
        main.wait_stream(self.stream)

    def capture(self, fn: Callable[[], None]):
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool, stream=self.stream):
            fn()
        return graph

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)


class StepRunner:
    """Forward/backward micro-steps and optimizer updates for the training loop.

    `micro_step(idx, scale)` adds one batch's (scaled) loss gradient into the .grad tensors
    and its loss into `loss_sum`; `optimizer_step()` clips, updates and zeroes the gradients,
    leaving the clipped norm in `grad_norm`. Both tensors stay on the device (read them only
    when logging).
    """

    def __init__(self, *, model: torch.nn.Module, train_model: torch.nn.Module,
                 optimizer: torch.optim.Optimizer, loss_fn: Callable, resident: ResidentSplit,
                 device: torch.device, amp: torch.dtype | None, grad_clip: float | None,
                 grad_accum: int, graphs: bool, reason: str = "", warmup: int = 1,
                 backend: GraphBackend | None = None):
        self.model, self.train_model, self.optimizer = model, train_model, optimizer
        self.loss_fn, self.resident, self.device, self.amp = loss_fn, resident, device, amp
        self.grad_clip, self.grad_accum = grad_clip, grad_accum
        self.graphs = graphs
        self.reason = reason or ("on" if graphs else "off")
        self.warmup = warmup
        self.loss_sum = torch.zeros((), device=device)
        self.grad_norm = torch.zeros((), device=device)
        self._seen: Counter = Counter()
        self._micro_graphs: dict[tuple[int, int], tuple] = {}
        self._opt_graph = None
        self._updates = 0
        self._plan: list[np.ndarray] = []
        self._order: torch.Tensor | None = None  # the epoch's row order, on the device
        self._offsets = np.zeros(1, dtype=np.int64)
        self._next = 0
        self.counts = {"eager_micro": 0, "replayed_micro": 0, "eager_updates": 0,
                       "replayed_updates": 0, "captures": 0, "graph_shapes": 0}
        self._backend = backend
        if graphs:
            self._backend = backend or CudaGraphs(device)
            tensor_learning_rates(optimizer, device)

    # ---- the step functions (what a graph captures) -------------------------------------

    def _forward_backward(self, rows: torch.Tensor, lengths: torch.Tensor, t: int,
                          factor: float) -> None:
        batch = self.resident.gather(rows, lengths, t)
        labels = batch.pop("labels")
        # autocast's weight-cast cache must be off inside a capture (its copies would be
        # freed after the capture while the graph still reads them).
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None,
                            cache_enabled=not self.graphs):
            logits = self.train_model(**batch).logits
        loss = self.loss_fn(logits.float(), labels) * factor
        loss.backward()
        self.loss_sum += loss.detach()

    def _update(self) -> None:
        if self.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(
                [p for p in self.model.parameters() if p.grad is not None], self.grad_clip)
            self.grad_norm.copy_(norm)
        self.optimizer.step()
        # In place when graphs hold the .grad addresses; None (cheaper) otherwise.
        self.optimizer.zero_grad(set_to_none=not self.graphs)

    # ---- public ---------------------------------------------------------------------------

    def plan(self, batches: list[np.ndarray], start: int = 0) -> None:
        """The epoch's batches, to be stepped through in order from `start`: their row indices
        go to the device once, so that each graph step copies its rows device to device
        instead of from the host."""
        if not self.graphs:
            return
        self._plan = batches
        flat = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
        self._order = torch.from_numpy(flat.astype(np.int64)).to(self.device)
        self._offsets = np.concatenate([[0], np.cumsum([len(b) for b in batches])])
        self._next = start

    def _rows(self, idx: np.ndarray) -> torch.Tensor:
        """The device row indices of `idx`: a slice of the planned order when `idx` is the
        next planned batch, else a host-to-device copy."""
        k = self._next
        if self._order is not None and k < len(self._plan) and self._plan[k] is idx:
            self._next += 1
            return self._order[self._offsets[k]:self._offsets[k + 1]]
        return self.resident.index_tensors(idx)[0]

    def micro_step(self, idx: np.ndarray, scale: float = 1.0) -> None:
        """Forward and backward of the batch of feature rows `idx` (loss times scale/grad_accum)."""
        t = self.resident.bucket(idx)
        factor = scale / self.grad_accum
        if not self.graphs:
            rows, lengths = self.resident.index_tensors(idx)
            self._forward_backward(rows, lengths, t, factor)
            self.counts["eager_micro"] += 1
            return
        if scale != 1.0:
            raise ValueError("graph steps take no per-batch loss scale (single process only)")
        key = (len(idx), t)
        self._seen[key] += 1
        with self._backend.side_stream():
            rows = self._rows(idx)
            entry = self._micro_graphs.get(key)
            if entry is None and self._seen[key] > self.warmup:
                entry = self._capture_micro(key, factor)
            if entry is None:
                self._forward_backward(rows, self.resident.lengths_dev.index_select(0, rows),
                                       t, factor)
                self.counts["eager_micro"] += 1
                return
            graph, rows_buf = entry
            rows_buf.copy_(rows)  # device to device: no host synchronisation
            graph.replay()
            self.counts["replayed_micro"] += 1

    def optimizer_step(self) -> None:
        """Clip, update and zero the gradients (a graph replay once one is captured)."""
        if not self.graphs:
            self._update()
            self.counts["eager_updates"] += 1
            return
        with self._backend.side_stream():
            if self._opt_graph is None and self._updates >= self.warmup:
                self._opt_graph = self._capture(self._update)
            if self._opt_graph is not None:
                self._opt_graph.replay()
                self.counts["replayed_updates"] += 1
            else:
                self._update()
                self.counts["eager_updates"] += 1
        self._updates += 1

    def stats(self) -> dict:
        return {"cuda_graphs": self.reason, **self.counts}

    def release(self) -> None:
        """Drop the graphs and their memory pool (before the final evaluation)."""
        self._micro_graphs.clear()
        self._opt_graph = None
        self._order = None

    # ---- capture --------------------------------------------------------------------------

    def _capture_micro(self, key: tuple[int, int], factor: float):
        b, t = key
        rows_buf = torch.zeros(b, dtype=torch.int64, device=self.device)

        def step() -> None:
            lengths = self.resident.lengths_dev.index_select(0, rows_buf)
            self._forward_backward(rows_buf, lengths, t, factor)

        graph = self._capture(step)
        if graph is None:
            return None
        self._micro_graphs[key] = (graph, rows_buf)
        self.counts["graph_shapes"] += 1
        return self._micro_graphs[key]

    def _capture(self, fn: Callable[[], None]):
        """fn captured (not run) into a graph; None, with graphs turned off, when the
        capture fails."""
        try:
            graph = self._backend.capture(fn)
        except Exception as err:  # noqa: BLE001 - any capture failure means: eager from here
            self._give_up(f"capture failed, eager steps from here: {type(err).__name__}: {err}")
            return None
        self.counts["captures"] += 1
        return graph

    def _give_up(self, reason: str) -> None:
        self._backend.synchronize()
        self.graphs = False
        self.reason = reason[:500]
        self._micro_graphs.clear()
        self._opt_graph = None
        # Back to float learning rates: eager steps need no device tensor.
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"] = float(group["lr"])
        # A capture records kernels without running them: the gradients accumulated so far
        # are untouched, and the eager step redoes this one.


def tensor_learning_rates(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Give each parameter group its own device tensor for the learning rate, so a captured
    update reads the value the scheduler writes (LRScheduler fills tensors in place)."""
    for group in optimizer.param_groups:
        if not isinstance(group["lr"], torch.Tensor):
            group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=device)
        group["capturable"] = True
    optimizer._warned_capturable_if_run_uncaptured = True  # the warm-up update runs eagerly


def plain_optimizer_state(state: dict) -> dict:
    """An optimizer state_dict as an eager run on any device can load: learning rates as
    floats, not capturable (a graph run sets both again when it resumes)."""
    groups = [{**g, "lr": float(g["lr"]) if isinstance(g["lr"], torch.Tensor) else g["lr"],
               **({"capturable": False} if "capturable" in g else {})}
              for g in state["param_groups"]]
    return {**state, "param_groups": groups}


def plain_scheduler_state(state: dict) -> dict:
    """A scheduler state_dict with its last learning rates as floats."""
    if "_last_lr" in state:
        state = {**state, "_last_lr": [float(x) for x in state["_last_lr"]]}
    return state


def describe(stats: dict | None) -> str | None:
    """One line on how a run's steps ran (for the CLI, worker.log and the Runs page); None
    when there is nothing to say (CPU runs)."""
    if not stats or str(stats.get("cuda_graphs", "")).startswith("no CUDA"):
        return None
    micro = stats.get("eager_micro", 0) + stats.get("replayed_micro", 0)
    if stats.get("replayed_micro"):
        line = (f"CUDA graphs: {stats.get('graph_shapes', 0)} batch shapes captured, "
                f"{stats['replayed_micro']:,} of {micro:,} steps replayed")
        if stats["cuda_graphs"] != "on":  # captured some, then a capture failed
            line += f"; then {stats['cuda_graphs']}"
        return line
    return f"CUDA graphs not used: {stats.get('cuda_graphs', 'off')}"
