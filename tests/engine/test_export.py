"""engine/export: ONNX (fp32, dynamic int8) exports of tiny models, their loader, the CLI."""
from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import WorkbenchError
from engine import cli, export
from engine.predict import Predictor
from tests.engine.tiny import make_tiny_model_dir


REPO = Path(__file__).resolve().parents[2]
WORDS = ["angela", "merkel", "met", "paris", "in", "the", "acme", "corp", "."]
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
INTENTS = ["balance", "card_lost", "transfer"]
SHAPES = [(1, 1), (1, 7), (3, 23), (8, 64), (2, 300)]  # none is the traced (2, 16)


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory):
    return Path(make_tiny_model_dir(tmp_path_factory.mktemp("ner"), WORDS, "ner", NER_LABELS,
                                    layers=1, seed=3))


@pytest.fixture(scope="module")
def cls_model(tmp_path_factory):
    return Path(make_tiny_model_dir(tmp_path_factory.mktemp("cls"), WORDS, "classification",
                                    INTENTS, layers=1, seed=4))


@pytest.fixture(scope="module")
def ner_export(ner_model, tmp_path_factory):
    return export.export_onnx(ner_model, tmp_path_factory.mktemp("ner_onnx") / "out",
                              quantize="int8")


@pytest.fixture(scope="module")
def cls_export(cls_model, tmp_path_factory):
    return export.export_onnx(cls_model, tmp_path_factory.mktemp("cls_onnx") / "out")


def _torch_logits(model_dir: Path, task: str, ids, mask) -> np.ndarray:
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    auto = AutoModelForTokenClassification if task == "ner" else AutoModelForSequenceClassification
    model = auto.from_pretrained(model_dir, use_safetensors=True).eval()
    with torch.inference_mode():
        return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()


def _batch(batch: int, length: int, vocab: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ids, every row but the first padded at a random point (pad id 0)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (batch, length)).astype(np.int64)
    mask = np.ones_like(ids)
    for row in range(1, batch):
        mask[row, int(rng.integers(1, length + 1)):] = 0
    ids[mask == 0] = 0
    return ids, mask


@pytest.mark.parametrize("which", ["ner", "classification"])
def test_fp32_logits_equal_torch_for_other_batch_sizes_and_lengths(which, ner_model, cls_model,
                                                                   ner_export, cls_export):
    model_dir, result = (ner_model, ner_export) if which == "ner" else (cls_model, cls_export)
    onnx_model = export.OnnxModel.load(result["folder"], prefer="fp32")
    assert onnx_model.precision == "fp32" and onnx_model.path.name == export.FP32_FILE
    vocab = onnx_model.config.vocab_size
    for k, (b, n) in enumerate(SHAPES):
        ids, mask = _batch(b, n, vocab, seed=k)
        want = _torch_logits(model_dir, which, ids, mask)
        got = onnx_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        assert isinstance(got.logits, torch.Tensor)
        assert got.logits.shape == want.shape == ((b, n, len(NER_LABELS)) if which == "ner"
                                                  else (b, len(INTENTS)))
        np.testing.assert_allclose(got.logits.numpy(), want, atol=1e-4, rtol=0)


def test_export_folder_describes_itself(ner_model, ner_export):
    folder = Path(ner_export["folder"])
    manifest = json.loads((folder / export.EXPORT_FILE).read_text())
    assert manifest == {k: v for k, v in ner_export.items() if k != "folder"}
    assert manifest["task"] == "ner" and manifest["labels"] == NER_LABELS
    assert manifest["inputs"][:2] == ["input_ids", "attention_mask"] and manifest["outputs"] == ["logits"]
    assert manifest["opset"] == export.DEFAULT_OPSET and manifest["max_length"] == 512
    assert manifest["default"] == export.INT8_FILE
    weights = (ner_model / "model.safetensors").read_bytes()
    assert manifest["source"]["sha256"] == hashlib.sha256(weights).hexdigest()
    for name, info in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert info["bytes"] == len(data) and info["sha256"] == hashlib.sha256(data).hexdigest()
    assert {"config.json", "tokenizer.json", export.FP32_FILE, export.INT8_FILE} <= set(manifest["files"])
    config = json.loads((folder / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(NER_LABELS))] == NER_LABELS
    assert manifest["check"]["fp32_max_abs_diff"] < 1e-4


def test_int8_is_smaller_and_close_to_fp32(ner_model, ner_export):
    folder = Path(ner_export["folder"])
    fp32, int8 = (folder / export.FP32_FILE).stat().st_size, (folder / export.INT8_FILE).stat().st_size
    assert int8 < fp32
    q = export.OnnxModel.load(folder)  # int8 is the default when the folder has it
    assert q.precision == "int8"
    agree, worst = [], 0.0
    for k, (b, n) in enumerate(SHAPES[1:4]):
        ids, mask = _batch(b, n, q.config.vocab_size, seed=10 + k)
        want = _torch_logits(ner_model, "ner", ids, mask)
        got = q.run(ids, mask)
        worst = max(worst, float(np.abs(got - want).max()))
        agree.append((got.argmax(-1) == want.argmax(-1))[mask.astype(bool)])
    spread = float(np.ptp(want))
    assert worst < 0.1 * spread  # close, not equal: weights are 8-bit
    assert np.concatenate(agree).mean() >= 0.9


def test_predictor_on_the_export_gives_the_torch_predictions(ner_model, ner_export, cls_model,
                                                             cls_export):
    sentences = [["Angela", "Merkel", "met", "xyzzy", "in", "Paris", "."], ["acme"],
                 ["the"] * 40]
    torch_ner = Predictor.load(ner_model, max_length=16)  # 16: long sentences go in windows
    onnx_ner = Predictor.load(ner_export["folder"], max_length=16, prefer="fp32")
    assert onnx_ner.task == "ner" and onnx_ner.labels == NER_LABELS
    assert isinstance(onnx_ner.model, export.OnnxModel) and onnx_ner.model.precision == "fp32"
    want, got = torch_ner.predict_words(sentences), onnx_ner.predict_words(sentences)
    assert [tags for tags, _ in got] == [tags for tags, _ in want]
    for (_, c_got), (_, c_want) in zip(got, want):
        np.testing.assert_allclose(c_got, c_want, atol=1e-5)
    assert Predictor.load(ner_export["folder"]).model.precision == "int8"

    texts = ["angela lost her card", "transfer to paris", "the"]
    p_torch, p_onnx = Predictor.load(cls_model), Predictor.load(cls_export["folder"])
    assert p_onnx.model.precision == "fp32"  # no int8 file in this export
    for a, b in zip(p_onnx.predict_texts(texts), p_torch.predict_texts(texts)):
        assert p_onnx.chosen(a) == p_torch.chosen(b)
        np.testing.assert_allclose([a[c] for c in INTENTS], [b[c] for c in INTENTS], atol=1e-5)


def test_a_folder_without_safetensors_is_refused(ner_model, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(ner_model, bare)
    (bare / "model.safetensors").rename(bare / "pytorch_model.bin")
    with pytest.raises(WorkbenchError, match=r"bare: no \.safetensors weights"):
        export.export_onnx(bare, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_damaged_export_is_refused_with_where_and_what(ner_export, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(ner_export["folder"], folder)
    onnx_file = folder / export.FP32_FILE
    onnx_file.write_bytes(onnx_file.read_bytes()[:5000])  # truncated
    with pytest.raises(WorkbenchError, match=r"model\.onnx: its sha256 differs"):
        export.OnnxModel.load(folder, prefer="fp32")
    with pytest.raises(WorkbenchError, match=r"could not load the model in .*copy: .*sha256"):
        Predictor.load(folder, prefer="fp32")
    # the same damage with export.json agreeing: onnxruntime itself refuses the file
    with pytest.raises(WorkbenchError, match=r"model\.onnx: onnxruntime could not load it"):
        export.OnnxModel.load(folder, prefer="fp32", verify=False)
    (folder / export.EXPORT_FILE).write_text("{not json")
    with pytest.raises(WorkbenchError, match=r"export\.json: missing or not valid JSON"):
        export.OnnxModel.load(folder)


def test_the_engine_imports_without_the_export_packages(tmp_path):
    """onnx, onnxruntime and onnxscript blocked: the engine and its CLI import; exporting
    says what to install."""
    code = (
        "import sys\n"
        "for name in ('onnx', 'onnxruntime', 'onnxscript'):\n"
        "    sys.modules[name] = None\n"
        "import engine.export, engine.cli_export, engine.predict, engine.cli\n"
        "from core.errors import WorkbenchError\n"
        "try:\n"
        f"    engine.export.export_onnx({str(tmp_path)!r}, None)\n"
        "except WorkbenchError as exc:\n"
        "    print('ERR', exc)\n")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ERR ONNX export needs: pip install -r requirements-export.txt" in out.stdout


def test_push_to_hub_offline_fails_fast(ner_export, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(WorkbenchError, match=r"cannot push .* to the hub: offline \(HF_HUB_OFFLINE"):
        export.push_to_hub(ner_export["folder"], "someone/tiny-ner-onnx")
    assert time.monotonic() - start < 5


def test_push_to_hub_with_the_hub_unreachable_fails_fast(ner_export, monkeypatch):
    from huggingface_hub import constants

    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(WorkbenchError, match=rf"127\.0\.0\.1:{port} did not answer"):
        export.push_to_hub(ner_export["folder"], "someone/tiny-ner-onnx")
    assert time.monotonic() - start < 5
    with pytest.raises(WorkbenchError, match="repo id 'user/name'"):
        export.push_to_hub(ner_export["folder"], "no-slash")


@pytest.fixture
def with_export_command(monkeypatch):
    if "engine.cli_export" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("engine.cli_export",))


def test_cli_exports_a_run_by_id_prints_sizes_and_the_folder_predicts(
        ner_model, tmp_path, monkeypatch, capsys, with_export_command):
    from core.config import RunConfig, config_to_dict
    from engine.store import Store

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store = Store(tmp_path / "ws")
    run_id = store.create_run(config_to_dict(RunConfig(name="tiny", task="ner", max_length=64)),
                              state="completed")
    run_dir = store.run_dir(run_id)
    shutil.copytree(ner_model, run_dir / "model")
    # the export succeeds, then the push is refused (offline): exit 1, the folder stays
    code = cli.main(["export", run_id, "--onnx", "--quantize", "int8", "--push-to-hub", "me/tiny"])
    out, err = capsys.readouterr()
    assert code == 1 and "error: cannot push" in err and "offline" in err
    folder = run_dir / "export"
    assert f"wrote {folder} (ner, {len(NER_LABELS)} labels" in out
    from engine.cli_export import human_size

    for name in (export.FP32_FILE, export.INT8_FILE, "config.json", "tokenizer.json"):
        (line,) = [ln for ln in out.splitlines() if ln.split()[-2:][0] == str(folder / name)
                   or ln.endswith(str(folder / name))]
        assert line.split()[:2] == human_size((folder / name).stat().st_size).split()
    assert "int8 max |int8 - torch|" in out
    manifest = export.read_manifest(folder)
    assert manifest["max_length"] == 64 and manifest["source"]["run_dir"] == str(run_dir.resolve())
    ((tags, _),) = Predictor.load(folder).predict_words([["angela", "met", "paris"]])
    assert len(tags) == 3 and set(tags) <= set(NER_LABELS)


def test_cli_json_for_a_model_folder_and_clear_errors(cls_model, tmp_path, monkeypatch, capsys,
                                                     with_export_command):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    out_dir = tmp_path / "onnx"
    assert cli.main(["export", str(cls_model), "--onnx", "--out", str(out_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["folder"] == str(out_dir) and result["task"] == "classification"
    assert export.INT8_FILE not in result["files"] and (out_dir / export.FP32_FILE).is_file()

    assert cli.main(["export", str(cls_model)]) == 1
    assert "give --onnx" in capsys.readouterr().err
    assert cli.main(["export", "no-such-run", "--onnx"]) == 1
    assert "no run or model folder 'no-such-run'" in capsys.readouterr().err
    assert cli.main(["export", str(cls_model), "--onnx", "--opset", "9"]) == 1
    assert "opset: expected a whole number >= 14" in capsys.readouterr().err
    unfinished = tmp_path / "run"
    unfinished.mkdir()
    (unfinished / "config.json").write_text('{"task": "ner"}')
    (unfinished / "status.json").write_text('{"state": "running"}')
    assert cli.main(["export", str(unfinished), "--onnx"]) == 1
    assert "the run has no model/ to export (state running)" in capsys.readouterr().err
