"""Report page: "Download model" for a run with a model folder, none without one, a warning
(not a traceback) for a damaged one."""
from __future__ import annotations

import io
import shutil
import zipfile

from streamlit.runtime.media_file_manager import MediaFileManager

from engine.runfolder import RunFolder
from tests.engine.tiny import make_tiny_model_dir
from tests.pages.fakes import NER_LABELS, make_run, no_exception, page_test


def _downloads(at) -> dict[str, object]:
    """{label: proto} of the page's download buttons."""
    return {b.proto.label: b.proto for b in at.get("download_button")}


def _give_model(store, run_id: str, tmp_path) -> RunFolder:
    """model/ of the run: a tiny saved token-classification model over the run's labels."""
    folder = RunFolder(store.run_dir(run_id))
    saved = make_tiny_model_dir(tmp_path / "tiny", ["john", "paris"], "ner", NER_LABELS)
    shutil.copytree(saved, folder.model_dir)
    return folder


def _record_deferred(monkeypatch) -> list[dict]:
    """Every deferred download the page registers: its callable, mime type and file name."""
    seen: list[dict] = []
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen.append({"callable": data_callable, "mimetype": mimetype, "file_name": file_name})
        return original(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return seen


def test_download_button_only_for_a_run_with_a_model(store, tmp_path, monkeypatch):
    deferred = _record_deferred(monkeypatch)
    plain = make_run(store, name="no-model")
    at = page_test("report", run=plain)
    no_exception(at)
    assert "Download model" not in _downloads(at)
    assert "CSV" in _downloads(at)  # the page did draw its tables
    with_model = make_run(store, name="with-model")
    _give_model(store, with_model, tmp_path)
    at = page_test("report", run=with_model)
    no_exception(at)
    assert not at.warning
    assert "Download model" in _downloads(at)
    # the zip is made only when the button is clicked: a deferred callable, named for the run
    (download,) = deferred
    assert download["file_name"] == f"{with_model}-model.zip"
    assert download["mimetype"] == "application/zip"
    assert not RunFolder(store.run_dir(with_model)).model_card_path.exists()
    with zipfile.ZipFile(io.BytesIO(download["callable"]())) as zf:
        names = set(zf.namelist())
    top = f"{with_model}-model"
    assert {f"{top}/config.json", f"{top}/model.safetensors", f"{top}/README.md"} <= names


def test_damaged_model_folder_is_a_warning(store, tmp_path):
    run_id = make_run(store, name="broken-model")
    folder = _give_model(store, run_id, tmp_path)
    for weights in folder.model_dir.glob("*.safetensors"):
        weights.unlink()
    at = page_test("report", run=run_id)
    no_exception(at)
    assert "Download model" not in _downloads(at)
    assert any("cannot be downloaded" in w.value and "safetensors" in w.value for w in at.warning)
