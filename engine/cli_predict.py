"""`python -m engine predict --model RUN --input FILE --output OUT`: label a file with a
trained model (engine/predict_files.py), as the run's evaluation labelled its test data."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import WorkbenchError


def register(sub) -> None:
    p = sub.add_parser(
        "predict", help="label a file with a trained model (CoNLL, JSONL, text, CSV, Parquet)",
        description="Label every sentence or text of a file with a trained model, the way the "
                    "run's evaluation did (same windows, merge and decoding), streaming with "
                    "constant memory. The output is written under its name only once whole.")
    p.add_argument("--model", required=True,
                   help="a run folder, a run id of the workspace, or a model folder")
    p.add_argument("--input", required=True, type=Path, help="the file to label")
    p.add_argument("--output", required=True, type=Path, help="where to write the labels")
    p.add_argument("--format", choices=("conll", "jsonl", "txt", "csv", "tsv", "parquet"),
                   help="input format (default: from the suffix; NER: CoNLL or text by content)")
    p.add_argument("--output-format", choices=("conll", "jsonl", "csv"),
                   help="output format (default: CoNLL for CoNLL input, CSV for tables, "
                        "else JSONL)")
    p.add_argument("--batch-size", type=int, default=64, help="model inputs per forward pass")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--confidence", action="store_true",
                   help="add each token's confidence (CoNLL: a last column; JSONL: a list)")
    p.add_argument("--text-column", help="the text column or field (default: the run's)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar with an ETA on stderr (default: when stderr is a "
                        "terminal)")
    p.set_defaults(handler=main)


def resolve_run(name: str) -> Path:
    """A folder given on the command line, or a run id of the workspace's store."""
    path = Path(name).expanduser()
    if path.exists() or "/" in name:
        return path
    from engine.data import workspace_root
    from engine.store import Store, safe_id

    root = workspace_root()
    if (root / Store.INDEX).is_file():
        candidate = root / Store.RUNS / safe_id(name)
        if candidate.is_dir():
            return candidate
    raise WorkbenchError(f"--model {name}: no such folder, and no run {name!r} in {root}")


def main(args) -> int:
    from engine.predict import open_model
    from engine.predict_files import describe, predict_file

    predictor = open_model(resolve_run(args.model), device=args.device,
                           batch_size=args.batch_size)
    settings = predictor.settings
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    summary = predict_file(
        predictor, args.input, args.output, in_fmt=args.format, out_fmt=args.output_format,
        confidence=args.confidence,
        text_column=args.text_column or settings.get("text_column", "text"),
        label_column=settings.get("label_column", "label"),
        label_delimiter=settings.get("label_delimiter", "|"), progress=progress)
    print(describe(summary, predictor.task))
    return 0
