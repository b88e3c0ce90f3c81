# Sourced by bench/device_run.sh and bench/device_sweep.sh on the device machine: installs
# the carried wheels, unpacks CoNLL-2003 into /tmp/conll and widens the fp16-carried MiniLM
# back to fp32 in /tmp/minilm (how to prepare .carry/ and .whl/: device_run.sh's header).
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
mkdir -p /tmp/conll /tmp/minilm
for f in .carry/data/*.gz; do gunzip -c "$f" > "/tmp/conll/$(basename "$f" .gz)"; done
cp .carry/minilm/*.json .carry/minilm/vocab.txt /tmp/minilm/
python3 - <<'PY'
from safetensors.torch import load_file, save_file
sd = load_file(".carry/minilm/model16.safetensors")
save_file({k: v.float() if v.is_floating_point() else v for k, v in sd.items()},
          "/tmp/minilm/model.safetensors")
PY
