"""`python -m engine.worker RUN_DIR`: run one training run and keep its folder current.

SIGTERM asks the loop to stop at the next step boundary: it writes a checkpoint and the run
ends `cancelled` (resumable). Any error ends it `failed` with the message in status.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from engine.runfolder import append_metrics, read_json, update_status


class StopFlag:
    """Set by SIGTERM/SIGINT; polled by the loop between steps."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        self.requested = True


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop metrics lines past `step` (written after the checkpoint a resume starts from)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("step", 0) <= step:
            kept.append(line)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    os.replace(tmp, path)


def check_config(run_dir: Path):
    """The run's validated RunConfig, its data files checked to exist; raises before the
    slow torch import, so that a config error fails the run in a second, not ten."""
    from core.config import config_from_dict, validate, validate_names
    from core.errors import ConfigError, DataError

    raw = read_json(run_dir / "config.json")
    if not isinstance(raw, dict):
        raise ConfigError(f"{run_dir / 'config.json'} is missing or not a JSON object")
    cfg = config_from_dict(raw)
    validate(cfg)
    for key in ("train", "dev", "test"):
        ref = getattr(cfg, key)
        if ref and not ref.startswith(("demo:", "dataset:")) and not Path(ref).expanduser().is_file():
            raise DataError(f"{key} data file not found; fix the path in the run config",
                            source=str(Path(ref).expanduser()))
    validate_names(cfg)  # last: the loss registry imports torch
    return cfg


def run(run_dir: Path, *, stop: Callable[[], bool] | None = None,
        echo: Callable[[dict], None] | None = None) -> str:
    """Train the run in `run_dir` (resuming from its latest checkpoint); returns the final state."""
    from core.errors import WorkbenchError

    run_dir = Path(run_dir)
    stop = stop or (lambda: False)
    update_status(run_dir, state="running", pid=os.getpid(), started_at=time.time(), error=None,
                  finished_at=None)
    state = "completed"
    try:
        cfg = check_config(run_dir)
        from engine.loop import train

        for info in train(cfg, run_dir, should_stop=stop):
            info = {"time": time.time(), **info}
            if info["event"] == "resume":
                truncate_metrics(run_dir, info["step"])
            append_metrics(run_dir, info)
            _status_from(run_dir, info)
            if echo:
                echo(info)
            if info["event"] == "stopped":
                state = "cancelled"
    except WorkbenchError as exc:
        state = "failed"
        update_status(run_dir, state=state, error=str(exc), finished_at=time.time(), pid=None)
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return state
    except Exception:  # noqa: BLE001 - the tail goes to status.json for the UI
        state = "failed"
        tail = traceback.format_exc()[-4000:]
        update_status(run_dir, state=state, error=tail, finished_at=time.time(), pid=None)
        print(tail, file=sys.stderr, flush=True)
        return state
    update_status(run_dir, state=state, finished_at=time.time(), pid=None)
    _sync_index(run_dir)
    return state


def _sync_index(run_dir: Path) -> None:
    """Tell the store's index the final state at once (the scheduler would, a tick later)."""
    root = run_dir.resolve().parent.parent
    if run_dir.resolve().parent.name != "runs" or not (root / "workbench.db").exists():
        return  # a run folder outside a store (train --run-dir)
    try:
        from engine.store import Store

        Store(root).sync_state(run_dir.name)
    except Exception as exc:  # noqa: BLE001 - the scheduler syncs it anyway
        print(f"note: index not updated ({exc})", file=sys.stderr)


def _status_from(run_dir: Path, info: dict) -> None:
    event = info["event"]
    if event == "start":
        update_status(run_dir, total_steps=info["total_steps"], step=info["step"],
                      device=info["device"], labels=info["labels"])
    elif event == "log":
        update_status(run_dir, step=info["step"], epoch=info["epoch"], loss=info["loss"])
    elif event == "eval":
        update_status(run_dir, step=info["step"], last_eval={"metric": info["metric"], "value": info["value"]})
    elif event == "end":
        update_status(run_dir, step=info["step"], summary=info["summary"],
                      step_runner=info.get("step_runner"))


def run_helper_rank(run_dir: Path, *, stop: Callable[[], bool]) -> int:
    """Ranks above 0 of a data-parallel run: take part in every step; rank 0 owns the folder."""
    from core.config import config_from_dict
    from engine.loop import train

    cfg = config_from_dict(read_json(Path(run_dir) / "config.json", default={}))
    for _ in train(cfg, Path(run_dir), should_stop=stop):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.worker", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    if not (args.run_dir / "config.json").exists():
        print(f"error: {args.run_dir}/config.json not found", file=sys.stderr)
        return 2
    flag = StopFlag()
    flag.install()
    if int(os.environ.get("RANK", "0")) > 0:  # a torchrun helper rank: trains, writes nothing
        return run_helper_rank(args.run_dir, stop=flag)
    sys.stdout.reconfigure(line_buffering=True)  # worker.log shows progress as it happens
    from engine.cli import print_event  # progress lines for worker.log

    state = run(args.run_dir, stop=flag, echo=print_event)
    return 0 if state in ("completed", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
