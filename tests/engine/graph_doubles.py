"""Test doubles for engine.graphs: a graph backend that runs on CPU."""
from __future__ import annotations

import contextlib
from typing import Callable


class RecordedCalls:
    """CUDA graphs' contract (engine.graphs.GraphBackend) without a GPU: `capture` records
    `fn` without running it and `replay` calls it again, reading whatever the static buffers
    hold then."""

    class _Replay:
        def __init__(self, fn):
            self.replay = fn

    def side_stream(self):
        return contextlib.nullcontext()

    def capture(self, fn: Callable[[], None]):
        return self._Replay(fn)

    def synchronize(self) -> None:
        pass
