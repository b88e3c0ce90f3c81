"""`python -m engine export RUN_OR_MODEL_DIR --onnx [--quantize int8] [--out DIR]
[--push-to-hub REPO]`: a trained model as ONNX (fp32, and dynamic int8) for cheap CPU
inference (engine/export.py), optionally uploaded to the Hugging Face hub."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("export", help="export a trained model to ONNX (fp32, int8) for CPU inference",
                       description="Export a run's model/ (or a model folder) to ONNX: model.onnx "
                                   "(fp32) and with --quantize int8 model.int8.onnx, plus its "
                                   "config, tokenizer and export.json. The folder loads with "
                                   "engine.predict.Predictor.load or engine.export.OnnxModel. "
                                   "Needs: pip install -r requirements-export.txt")
    p.add_argument("source", metavar="RUN_OR_MODEL_DIR",
                   help="a run folder, a run id of this workspace, or a model folder")
    p.add_argument("--onnx", action="store_true", help="export to ONNX (the one format so far)")
    p.add_argument("--quantize", choices=("int8",), help="also write a dynamic int8 model")
    p.add_argument("--out", type=Path, help="output folder (default: <run>/export)")
    p.add_argument("--opset", type=int, help="ONNX opset (default 18)")
    p.add_argument("--push-to-hub", metavar="REPO", help="upload the folder to this hub model "
                   "repo (user/name) afterwards; needs a login and the network")
    p.add_argument("--json", action="store_true", help="print export.json's content as JSON")
    p.set_defaults(handler=main)


def main(args) -> int:
    from engine import export
    from engine.data import workspace_root
    from engine.store import Store

    if not args.onnx:
        raise ConfigError("export: give --onnx (the only export format so far), e.g. "
                          "python -m engine export RUN --onnx --quantize int8")
    source = export.find_source(args.source, runs_dir=workspace_root() / Store.RUNS)
    kwargs = {} if args.opset is None else {"opset": args.opset}
    out = sys.stderr if args.json else sys.stdout  # with --json, stdout holds only the JSON
    print(f"exporting {source.model_dir} ...", file=out, flush=True)
    result = export.export_onnx(source.run_dir or source.model_dir, args.out,
                                quantize=args.quantize, **kwargs)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print("\n".join(summary_lines(result)))
    if args.push_to_hub:
        url = export.push_to_hub(result["folder"], args.push_to_hub)
        print(f"pushed to {args.push_to_hub}: {url}", file=out, flush=True)
    return 0


def human_size(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, as file browsers show them)."""
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("kB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


def summary_lines(result: dict) -> list[str]:
    """What was written (file, size, precision) and the export check, one line each."""
    folder = Path(result["folder"])
    lines = [f"wrote {folder} ({result['task']}, {len(result['labels'])} labels, opset "
             f"{result['opset']}, inputs {', '.join(result['inputs'])})"]
    for name, info in result["files"].items():
        tag = f"  {info['precision']}" if "precision" in info else ""
        lines.append(f"  {human_size(info['bytes']):>9}  {folder / name}{tag}")
    check = result["check"]
    line = (f"check on a {check['input_shape'][0]} x {check['input_shape'][1]} batch: fp32 "
            f"max |onnx - torch| {check['fp32_max_abs_diff']:.2g}")
    if "int8_max_abs_diff" in check:
        line += (f"; int8 max |int8 - torch| {check['int8_max_abs_diff']:.2g}, argmax agrees "
                 f"on {100 * check['int8_argmax_agreement']:.0f} %")
    lines.append(line)
    return lines
