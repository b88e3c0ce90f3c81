#!/usr/bin/env bash
# Second GPU call of issue 6: F1 noise and the effect of length bucketing on F1 and speed.
# Trainer at a second seed; the engine at 3 seeds for bucket_batches 50 (default), 8 and 1.
# Prepared as bench/device_run.sh says; run(command="bash bench/device_sweep.sh",
# carry=[".carry", ".whl"], timeout_s=...). Writes $OUT/sweep.jsonl and $OUT/sweep.log.
set -uo pipefail
out=${OUT:-bench/results}
export PYTHONUNBUFFERED=1
source bench/device_unpack.sh
common=(--train /tmp/conll/eng.train --eval /tmp/conll/eng.testa --model /tmp/minilm --batch-size 32)
one() {  # label, then bench arguments
  local label=$1; shift
  if timeout 150 python3 bench/train_speed.py "${common[@]}" "$@" --out /tmp/one.json >>"$out/sweep.log" 2>&1; then
    python3 -c "import json,sys; d=json.load(open('/tmp/one.json')); d['label']=sys.argv[1]; print(json.dumps(d))" "$label" >>"$out/sweep.jsonl"
    grep -h "tokens/s" "$out/sweep.log" | tail -1 | sed "s/^/$label: /"
  else
    echo "$label: failed"
  fi
}
one engine-b50-s1 --epochs 3 --sides engine --seed 1
one engine-b1-s42 --epochs 3 --sides engine --seed 42 --bucket-batches 1
one engine-b8-s42 --epochs 3 --sides engine --seed 42 --bucket-batches 8
one engine-b50-s2 --epochs 3 --sides engine --seed 2
one engine-b1-s1 --epochs 3 --sides engine --seed 1 --bucket-batches 1
one engine-b8-s1 --epochs 3 --sides engine --seed 1 --bucket-batches 8
one trainer-s1 --epochs 3 --sides trainer --seed 1
one engine-b1-s2 --epochs 3 --sides engine --seed 2 --bucket-batches 1
one engine-b8-s2 --epochs 3 --sides engine --seed 2 --bucket-batches 8
one bert-engine-b1 --epochs 1 --sides engine --model-shape bert-base --bucket-batches 1
one bert-engine-b8 --epochs 1 --sides engine --model-shape bert-base --bucket-batches 8
