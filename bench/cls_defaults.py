"""Classification defaults (accuracy issue, item 5): dev accuracy and macro F1 per seed of the
dashboard's default recipe with the bundled model on the demo intent and sentiment data.

    python bench/cls_defaults.py [--demos intent,sentiment] [--seeds 1,2,3] [--threads 2]
        [--set KEY=VALUE ...] [--out bench/results/cls_defaults_cpu.json]

Each run is `python -m engine train` on a config holding only task, train = demo:<name> and
the seed (so every other knob is RunConfig's default, what the Train page offers), plus any
--set; dev is the demo's own dev split. Results are appended to --out as they come.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--demos", default="intent,sentiment")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "cls_defaults_cpu.json")
    args = p.parse_args()
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {}
    runs = saved.get("runs", [])
    label = ",".join(args.set) or "defaults"
    done = {(r["demo"], r["seed"], r["settings"]) for r in runs}
    work = Path(tempfile.mkdtemp(prefix="cls_defaults_"))
    for demo in args.demos.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            if (demo, seed, label) in done:
                continue
            config = work / f"{demo}-{seed}.json"
            config.write_text(json.dumps({"task": "classification", "train": f"demo:{demo}",
                                          "seed": seed, "threads": args.threads}))
            run_dir = work / f"{demo}-{seed}"
            cmd = [sys.executable, "-m", "engine", "train", "--config", str(config),
                   "--run-dir", str(run_dir)]
            for item in args.set:
                cmd += ["--set", item]
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "WORKBENCH_HOME": str(work / "ws")})
            wall = time.perf_counter() - t0
            sys.path.insert(0, str(ROOT))
            from core.report import headline

            report = json.loads((run_dir / "report.json").read_text())
            dev, test = (headline("classification", report[s]) for s in ("dev", "test"))
            row = {"demo": demo, "seed": seed, "settings": label, "train_s": round(wall, 1),
                   "dev_accuracy": dev["accuracy"], "dev_f1_macro": dev["f1_macro"],
                   "test_accuracy": test["accuracy"]}
            runs.append(row)
            print(f"{demo:>10} seed {seed} [{label}]: dev accuracy {row['dev_accuracy']} "
                  f"macro F1 {row['dev_f1_macro']} ({wall:.0f} s)", flush=True)
            summary = {}
            for key in dict.fromkeys((r["demo"], r["settings"]) for r in runs):
                acc = [r["dev_accuracy"] for r in runs if (r["demo"], r["settings"]) == key]
                summary[f"{key[0]} [{key[1]}]"] = {
                    "seeds": len(acc), "accuracy_mean": round(statistics.mean(acc), 4),
                    "accuracy_sd": round(statistics.stdev(acc), 4) if len(acc) > 1 else None}
            args.out.write_text(json.dumps({
                "bench": "cls_defaults", "when": time.strftime("%Y-%m-%d %H:%M"),
                "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
                "runs": runs, "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
