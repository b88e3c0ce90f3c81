"""`python -m engine.worker RUN_DIR`: run one training run and keep its folder current.

SIGTERM asks the loop to stop at the next step boundary: it writes a checkpoint and the run
ends `cancelled` (resumable). Any error ends it `failed` with the message in status.json.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from engine.runfolder import RunFolder


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


def check_config(run_dir: Path):
    """The run's validated RunConfig, its data references checked (files, demos and stored
    datasets exist and suit the task: engine.data.check_references, as the Train page checks
    them); raises before the slow torch import, so that a config error fails the run in a
    second, not ten."""
    from core.config import config_from_dict, validate, validate_names
    from core.errors import ConfigError
    from engine.data import check_references

    folder = RunFolder(run_dir)
    raw = folder.read_config()
    if raw is None:
        raise ConfigError(f"{folder.config_path} is missing or not a JSON object")
    cfg = config_from_dict(raw)
    validate(cfg)
    check_references(cfg, workspace=_workspace_of(Path(run_dir)))  # the store train() reads
    validate_names(cfg)  # last: the loss registry imports torch
    return cfg


def run(run_dir: Path, *, stop: Callable[[], bool] | None = None,
        echo: Callable[[dict], None] | None = None) -> str:
    """Train the run in `run_dir` (resuming from its latest checkpoint); returns the final
    state, or "busy" (status.json untouched) when another process is training that run."""
    run_dir = Path(run_dir)
    with RunFolder(run_dir).training() as mine:
        if not mine:  # leave status.json to the process that is training it
            print(f"error: another process is training the run in {run_dir}; wait for it or "
                  "cancel it first", file=sys.stderr, flush=True)
            return "busy"
        return _run(run_dir, stop=stop, echo=echo)


def _run(run_dir: Path, *, stop: Callable[[], bool] | None,
         echo: Callable[[dict], None] | None) -> str:
    from core.errors import WorkbenchError

    folder = RunFolder(run_dir)
    stop = stop or (lambda: False)
    earlier = {"warnings": None} if folder.read_status().get("warnings") else {}
    folder.update_status(state="running", pid=os.getpid(), started_at=time.time(), error=None,
                         damaged=None, finished_at=None,  # rewritten whole: no longer damaged
                         **earlier)  # and this attempt's trackers warn afresh
    state = "completed"
    tracker = None  # engine/tracking.py: opened once the config is valid
    try:
        cfg = check_config(run_dir)
        from engine.loop import train
        from engine.tracking import Tracker

        tracker = Tracker.open(cfg, run_dir, _workspace_of(run_dir))  # never raises
        for info in train(cfg, run_dir, should_stop=stop, workspace=_workspace_of(run_dir)):
            info = {"time": time.time(), **info}
            if info["event"] == "resume":  # no checkpoint: drop every line of the lost attempt
                folder.truncate_metrics(info["step"] if info.get("checkpoint") else -1)
            folder.append_metrics(info)
            _status_from(folder, info)
            tracker.event(info)
            if echo:
                echo(info)
            if info["event"] == "stopped":
                state = "cancelled"
            elif info["event"] == "end":  # before train() prunes the checkpoints: a kill from
                # here on leaves a completed run, one before it a resumable final checkpoint
                folder.update_status(state="completed", finished_at=time.time())
        if state == "completed":
            tracker.finish(run_dir)  # report.json's scores and model/ to the trackers
    except WorkbenchError as exc:
        folder.update_status(state="failed", error=str(exc), finished_at=time.time(), pid=None)
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return "failed"
    except Exception:  # noqa: BLE001 - the tail goes to status.json for the UI
        tail = traceback.format_exc()[-4000:]
        folder.update_status(state="failed", error=tail, finished_at=time.time(), pid=None)
        print(tail, file=sys.stderr, flush=True)
        return "failed"
    finally:
        if tracker is not None:  # ends the tracked run: finished, killed or failed
            tracker.close("failed" if folder.read_status().get("state") == "failed" else state)
    folder.update_status(state=state, finished_at=time.time(), pid=None)
    _sync_index(run_dir)
    return state


def _workspace_of(run_dir: Path) -> Path:
    """The workspace a run reads datasets and caches from: its store's root, or for a folder
    outside a store (train --run-dir) the configured workspace ($WORKBENCH_HOME)."""
    from engine.data import workspace_root
    from engine.store import Store

    root = Store.root_of(run_dir)  # not Store.containing: a damaged index must not stop training
    return root if root is not None else workspace_root()


def _sync_index(run_dir: Path) -> None:
    """Tell the store's index the final state at once (the scheduler would, a tick later);
    never from a worker on another machine (engine.data.remote_worker)."""
    from engine.data import remote_worker
    from engine.store import Store

    if remote_worker():
        return

    try:
        store = Store.containing(run_dir)
        if store is None:
            return  # a run folder outside a store (train --run-dir)
        store.sync_state(run_dir.name)
    except Exception as exc:  # noqa: BLE001 - the scheduler syncs it anyway
        print(f"note: index not updated ({exc})", file=sys.stderr)


def _status_from(folder: RunFolder, info: dict) -> None:
    """The status.json fields an event changes (progress, last evaluation, summary)."""
    event = info["event"]
    if event == "start":
        folder.update_status(total_steps=info["total_steps"], step=info["step"],
                             device=info["device"], labels=info["labels"])
    elif event == "log":
        folder.update_status(step=info["step"], epoch=info["epoch"], loss=info["loss"])
    elif event == "eval":
        folder.update_status(step=info["step"],
                             last_eval={"metric": info["metric"], "value": info["value"]})
    elif event == "end":
        folder.update_status(step=info["step"], summary=info["summary"],
                             step_runner=info.get("step_runner"))


def run_helper_rank(run_dir: Path, *, stop: Callable[[], bool]) -> int:
    """Ranks above 0 of a data-parallel run: take part in every step; rank 0 owns the folder."""
    from core.config import config_from_dict
    from engine.loop import train

    cfg = config_from_dict(RunFolder(run_dir).read_config() or {})
    for _ in train(cfg, Path(run_dir), should_stop=stop, workspace=_workspace_of(Path(run_dir))):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.worker", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    folder = RunFolder(args.run_dir)
    if not folder.config_path.exists():
        print(f"error: {folder.config_path} not found", file=sys.stderr)
        return 2
    flag = StopFlag()
    flag.install()
    if int(os.environ.get("RANK", "0")) > 0:  # a torchrun helper rank: trains, writes nothing
        return run_helper_rank(args.run_dir, stop=flag)
    sys.stdout.reconfigure(line_buffering=True)  # worker.log shows progress as it happens
    from engine.events import print_event  # progress lines for worker.log

    state = run(args.run_dir, stop=flag, echo=print_event)
    return 0 if state in ("completed", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
