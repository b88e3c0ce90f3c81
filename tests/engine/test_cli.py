"""`python -m engine ...` as a user runs it: evaluate, validate, train and the queue.

The two commands that train (train, and the queue daemon's worker) start in the background
when this module starts, so their torch imports overlap the fast evaluate/validate tests.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from seqeval import metrics as seqeval_metrics
from seqeval.scheme import IOB2

from core.config import config_from_dict, to_toml
from engine.queue import pid_alive
from engine.runfolder import RunFolder, read_json
from tests.engine.runs import REPO, env_for, kill_quietly, make_run_config, wait_for

ENGINE = [sys.executable, "-m", "engine"]


def engine(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m engine ARGS` from the repository root and capture its output."""
    return subprocess.run([*ENGINE, *map(str, args)], cwd=REPO, env=env or env_for(REPO / "unused"),
                          capture_output=True, text=True, timeout=timeout)


def engine_many(arg_lists: dict[str, list], env: dict | None = None) -> dict[str, subprocess.CompletedProcess]:
    """Several engine commands at once (each is a fresh interpreter); results by key."""
    env = env or env_for(REPO / "unused")
    procs = {k: subprocess.Popen([*ENGINE, *map(str, args)], cwd=REPO, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k, args in arg_lists.items()}
    out = {}
    for k, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[k] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


def conll(sentences: list[list[tuple[str, ...]]]) -> str:
    return "\n\n".join("\n".join(" ".join(cols) for cols in sent) for sent in sentences) + "\n"


GOLD = [[("John", "B-PER"), ("Smith", "I-PER"), ("lives", "O"), ("in", "O"), ("New", "B-LOC"), ("York", "I-LOC")],
        [("Mary", "B-PER"), ("met", "O"), ("Acme", "B-ORG"), ("staff", "O")],
        [("Paris", "B-LOC"), ("is", "O"), ("nice", "O")]]
PRED_TAGS = [["B-PER", "I-PER", "O", "O", "B-LOC", "B-LOC"],   # LOC split in two
             ["I-PER", "O", "B-ORG", "O"],                     # orphan I-: conlleval yes, strict no
             ["B-PER", "O", "O"]]                              # wrong type


def tags_of(sentences) -> list[list[str]]:
    return [[cols[-1] for cols in sent] for sent in sentences]


# ---- background work: a foreground train and the queue daemon ------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def files(workdir) -> dict[str, Path]:
    """Gold, predicted and assorted broken files."""
    d = workdir / "files"
    d.mkdir()
    pred = [[(tok, tag) for (tok, _), tag in zip(sent, tags)] for sent, tags in zip(GOLD, PRED_TAGS)]
    paths = {
        "gold": conll(GOLD), "pred": conll(pred),
        "single": conll([[(tok, g, p) for (tok, g), (_, p) in zip(gs, ps)] for gs, ps in zip(GOLD, pred)]),
        "pred_other_token": conll([pred[0], [("Marie",) + pred[1][0][1:]] + pred[1][1:], pred[2]]),
        "pred_split_sentence": conll([pred[0][:3], pred[0][3:], pred[1], pred[2]]),
        "pred_short": conll(pred[:2]),
        "orphan": ("John B-PER\nSmith I-PER\nmet O\nAnna B-PER\n\nlives O\nin O\nNew B-LOC\nYork I-LOC\n"
                   "\nin O\nParis I-LOC\n"),  # line 12: I-LOC after O
        "ragged": "John B-PER\nlives O extra\n",
        "one_column": "John B-PER\nlives\n",
    }
    out = {}
    for name, text in paths.items():
        out[name] = d / f"{name}.conll"
        out[name].write_text(text, encoding="utf-8")
    binary = {"invalid_utf8": b"John B-PER\nM\xfcller B-PER\n", "png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
              "empty": b"", "blank": b"\n \n\t\n"}
    binary.update({f"random{i}": os.urandom(64 * (i + 1)) for i in range(3)})
    for name, data in binary.items():
        out[name] = d / f"{name}.conll"
        out[name].write_bytes(data)
    return out


@pytest.fixture(scope="module")
def train_config(workdir) -> Path:
    """run.toml with data paths relative to it (the CLI resolves them against the config)."""
    cfg = config_from_dict(make_run_config(workdir / "inputs", "ner", epochs=1))
    for key in ("train", "dev", "test"):
        setattr(cfg, key, os.path.relpath(getattr(cfg, key), workdir))
    path = workdir / "run.toml"
    path.write_text(to_toml(cfg), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def background_train(workdir, train_config):
    """`python -m engine train --config run.toml --run-dir DIR`, started now, waited for later."""
    run_dir = workdir / "trained"
    out = open(workdir / "train.out", "w+")
    err = open(workdir / "train.err", "w+")
    proc = subprocess.Popen([*ENGINE, "train", "--config", str(train_config), "--run-dir", str(run_dir)],
                            cwd=REPO, env=env_for(workdir / "ws-train"), stdout=out, stderr=err, text=True)
    yield proc, run_dir, out, err
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    out.close()
    err.close()


@pytest.fixture(scope="module")
def queue_home(workdir, train_config):
    """A workspace whose daemon (started by `queue submit`) is stopped at the end."""
    home = workdir / "ws-queue"
    env = {**env_for(home), "WORKBENCH_SLOTS": "1"}
    yield home, env
    pid = _read_pid(home / "queue.pid")
    kill_quietly(pid, signal.SIGTERM)
    if pid:
        try:
            wait_for(lambda: not pid_alive(pid), 20, what="the queue daemon to exit")
        finally:
            kill_quietly(pid)
    for status in home.glob("runs/*/status.json"):  # workers outlive the daemon by design
        kill_quietly(read_json(status, {}).get("pid"))


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="module")
def submitted(queue_home, train_config):
    """Two runs submitted (the daemon starts the first), the second cancelled while queued."""
    home, env = queue_home
    # both at once (each imports torch to check registry names); the later one in the queue
    # waits behind the other (one slot) and is cancelled before that one can finish
    subs = engine_many({"a": ["queue", "submit", train_config], "b": ["queue", "submit", train_config]}, env)
    ids = sorted((s.stdout.strip() for s in subs.values()),
                 key=lambda i: RunFolder(home / "runs" / i).read_status().get("created_at", 0) if i else 0)
    cancel = engine("queue", "cancel", ids[1], env=env)
    listing = engine("queue", "list", env=env)
    return {"first": subs["a"], "second": subs["b"], "cancel": cancel, "list": listing, "ids": tuple(ids)}


@pytest.fixture(scope="module", autouse=True)
def _start_background(background_train, submitted):
    """Start the slow work before the fast tests run."""


# ---- evaluate ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evaluated(files) -> dict[str, subprocess.CompletedProcess]:
    g, p = files["gold"], files["pred"]
    return engine_many({
        "table": ["evaluate", "--gold", g, "--pred", p],
        "json": ["evaluate", "--gold", g, "--pred", p, "--json"],
        "tokens": ["evaluate", "--gold", g, "--pred", p, "--tokens"],
        "single": ["evaluate", "--gold", files["single"]],
        "strict": ["evaluate", "--gold", g, "--pred", p, "--strict", "--scheme", "IOB2", "--json"],
        "bad_scheme": ["evaluate", "--gold", g, "--pred", p, "--strict", "--scheme", "IOB1"],
        "other_token": ["evaluate", "--gold", g, "--pred", files["pred_other_token"]],
        "split": ["evaluate", "--gold", g, "--pred", files["pred_split_sentence"]],
        "short": ["evaluate", "--gold", g, "--pred", files["pred_short"]],
        "missing": ["evaluate", "--gold", g, "--pred", files["gold"].parent / "nope.conll"],
    })


def test_evaluate_prints_the_entity_table(evaluated):
    r = evaluated["table"]
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:] if line.split()[0] in ("LOC", "ORG", "PER")}
    assert rows["ORG"] == ["1.000", "1.000", "1.000", "1"]
    assert rows["LOC"][-1] == "2" and rows["PER"][-1] == "2"
    assert any(line.strip().startswith("micro avg") for line in lines)


def test_evaluate_json_equals_seqeval(evaluated):
    r = evaluated["json"]
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"LOC", "ORG", "PER", "micro", "macro", "weighted"} <= set(out)
    gold, pred = tags_of(GOLD), PRED_TAGS
    ref = seqeval_metrics.classification_report(gold, pred, output_dict=True, zero_division=0)
    for key, ref_key in [("LOC", "LOC"), ("ORG", "ORG"), ("PER", "PER"), ("micro", "micro avg"),
                         ("macro", "macro avg"), ("weighted", "weighted avg")]:
        assert out[key]["f1"] == pytest.approx(ref[ref_key]["f1-score"])
        assert out[key]["precision"] == pytest.approx(ref[ref_key]["precision"])
        assert out[key]["support"] == ref[ref_key]["support"]


def test_evaluate_tokens_adds_the_per_tag_table(evaluated):
    r = evaluated["tokens"]
    assert r.returncode == 0, r.stderr
    entity_table, tag_table = r.stdout.split("\n\n", 1)
    assert "I-LOC" not in entity_table
    tags = {line.split()[0] for line in tag_table.splitlines()[1:]}
    assert {"B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "O"} <= tags


def test_evaluate_single_file_uses_the_last_two_columns(evaluated):
    assert evaluated["single"].returncode == 0, evaluated["single"].stderr
    assert evaluated["single"].stdout == evaluated["table"].stdout


def test_evaluate_strict_equals_seqeval_strict(evaluated):
    r = evaluated["strict"]
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    gold, pred = tags_of(GOLD), PRED_TAGS
    strict = seqeval_metrics.f1_score(gold, pred, mode="strict", scheme=IOB2)
    lenient = seqeval_metrics.f1_score(gold, pred)
    assert strict != lenient  # the orphan I-PER counts only in conlleval mode
    assert out["micro"]["f1"] == pytest.approx(strict)
    lenient_out = json.loads(evaluated["json"].stdout)
    assert (out["PER"]["tp"], lenient_out["PER"]["tp"]) == (1, 2)  # Mary: I-PER for B-PER


def test_evaluate_rejects_bad_input_with_a_located_message(evaluated):
    r = evaluated["bad_scheme"]
    assert r.returncode == 1 and "IOB1" in r.stderr and "Traceback" not in r.stderr
    r = evaluated["other_token"]
    assert r.returncode == 1
    assert "sentence 2" in r.stderr and "line 8" in r.stderr and "'Marie'" in r.stderr
    r = evaluated["split"]  # reported where the split is, not as a count mismatch
    assert r.returncode == 1 and "sentence 1" in r.stderr and "token 4" in r.stderr
    r = evaluated["short"]
    assert r.returncode == 1 and "fewer sentences" in r.stderr and "expected 3" in r.stderr
    r = evaluated["missing"]
    assert r.returncode == 1 and "nope.conll" in r.stderr
    for r in evaluated.values():
        assert "Traceback" not in r.stdout + r.stderr


def test_evaluate_and_validate_do_not_import_torch(files):
    for args in (["evaluate", "--gold", files["gold"], "--pred", files["pred"]], ["validate", files["gold"]]):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "engine", *map(str, args)], cwd=REPO,
                           env=env_for(REPO / "unused"), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        imported = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "core" in imported  # the check sees our own imports
        assert not imported & {"torch", "transformers", "safetensors"}


# ---- validate ----------------------------------------------------------------------------------

MALFORMED = {"ragged": "line 2", "one_column": "line 2", "invalid_utf8": "line 2", "png": "line 1",
             "empty": None, "blank": None, "random0": None, "random1": None, "random2": None}


@pytest.fixture(scope="module")
def validated(files) -> dict[str, subprocess.CompletedProcess]:
    runs = {name: ["validate", files[name]] for name in ["gold", "orphan", *MALFORMED]}
    runs["gold_json"] = ["validate", "--json", files["gold"]]
    runs["ragged_json"] = ["validate", "--json", files["ragged"]]
    return engine_many(runs)


def test_validate_clean_file(validated):
    r = validated["gold"]
    assert r.returncode == 0, r.stdout + r.stderr
    summary = next(line for line in r.stdout.splitlines() if line.startswith("summary:"))
    assert "sentences 3" in summary and "tokens 13" in summary and "scheme IOB2" in summary
    assert "labels B-LOC B-ORG B-PER I-LOC I-PER O" in summary
    assert r.stdout.rstrip().endswith("usable")
    out = json.loads(validated["gold_json"].stdout)
    assert out["usable"] is True and out["summary"]["sentences"] == 3 and out["summary"]["tokens"] == 13


def test_validate_orphan_inside_tag_warns_but_passes(validated):
    r = validated["orphan"]
    assert r.returncode == 0, r.stdout + r.stderr
    warnings = [line for line in r.stdout.splitlines() if line.startswith("warning")]
    assert any("orphan.conll:12" in w and "'I-LOC' follows 'O'" in w for w in warnings), r.stdout
    assert "scheme IOB2" in r.stdout and r.stdout.rstrip().endswith("usable")


@pytest.mark.parametrize("name", list(MALFORMED))
def test_validate_malformed_file_fails_cleanly(validated, files, name):
    r = validated[name]
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "error:" in out and str(files[name]) in out
    if MALFORMED[name]:
        assert MALFORMED[name] in out
    assert "Traceback" not in out
    assert "not usable" in r.stdout


def test_validate_json_reports_errors_as_json(validated):
    r = validated["ragged_json"]
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["usable"] is False and "line 2" in out["error"]


# ---- validate: table columns -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tables(workdir) -> dict[str, Path]:
    d = workdir / "tables"
    d.mkdir()
    rows = "hello there,greeting\nbook a flight to paris,travel\nhi,greeting\n"
    out = {"intents": d / "intents.csv", "reversed": d / "reversed.csv"}
    out["intents"].write_text("text,category\n" + rows, encoding="utf-8")
    out["reversed"].write_text("Category,Utterance\n" + "".join(
        f"{b},{a}\n" for a, b in (line.split(",") for line in rows.splitlines())), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def validated_tables(tables, files) -> dict[str, subprocess.CompletedProcess]:
    t = tables
    return engine_many({
        "guessed": ["validate", t["intents"]],
        "reversed": ["validate", t["reversed"]],
        "flags": ["validate", t["intents"], "--text-column", "text", "--label-column", "category"],
        "json": ["validate", "--json", t["intents"]],
        "wrong": ["validate", t["intents"], "--label-column", "intent"],
        "conll_flag": ["validate", files["gold"], "--text-column", "text"],
    })


def test_validate_guesses_the_label_column_and_says_so(validated_tables):
    r = validated_tables["guessed"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0] == (
        "columns: using text column 'text' and label column 'category' (guessed from the header "
        "'text', 'category'; choose with --text-column / --label-column)")
    assert "examples 3" in r.stdout and "labels greeting travel" in r.stdout
    assert r.stdout.rstrip().endswith("usable")
    r = validated_tables["reversed"]  # names in any case and order
    assert r.returncode == 0, r.stdout + r.stderr
    assert "text column 'Utterance' and label column 'Category'" in r.stdout


def test_validate_column_flags(validated_tables):
    r = validated_tables["flags"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert "guessed" not in r.stdout and "label_column category" in r.stdout
    out = json.loads(validated_tables["json"].stdout)  # JSON: the columns are in the summary
    assert out["usable"] and out["summary"]["text_column"] == "text"
    assert out["summary"]["label_column"] == "category"
    r = validated_tables["wrong"]
    assert r.returncode == 1 and "column 'intent' not found" in r.stdout
    assert "text column 'text'" in r.stdout  # the guessed half is still said
    r = validated_tables["conll_flag"]
    assert r.returncode == 1 and "--text-column: columns apply to CSV, TSV and Parquet" in r.stdout
    for r in validated_tables.values():
        assert "Traceback" not in r.stdout + r.stderr


def test_guess_columns():
    from engine.data import guess_columns

    assert guess_columns(["text", "category"]) == ("text", "category")
    assert guess_columns(["category", "text"]) == ("text", "category")
    assert guess_columns(["Label", "Sentence"]) == ("Sentence", "Label")
    assert guess_columns(["a", "b"]) == ("a", "b")
    assert guess_columns(["a", "b"], label_column="a") == ("b", "a")
    assert guess_columns(["x"], text_column="x") == ("x", "label")
    assert guess_columns([]) == ("text", "label")


# ---- train -------------------------------------------------------------------------------------

def test_train_bad_config_fails_fast_without_traceback(workdir, train_config):
    bad = workdir / "bad.toml"
    bad.write_text(train_config.read_text() + "\nlearning_rat = 0.1\n")
    r = engine("train", "--config", bad, "--run-dir", workdir / "bad-run", env=env_for(workdir / "ws-bad"))
    assert r.returncode == 1
    assert "learning_rat" in r.stderr and "learning_rate" in r.stderr  # names the key and a fix
    assert "Traceback" not in r.stderr
    assert not (workdir / "bad-run").exists()


@pytest.mark.slow
def test_train_runs_in_the_foreground_and_prints_the_report(background_train):
    proc, run_dir, out, err = background_train
    assert proc.wait(timeout=300) == 0, (err.seek(0), err.read()[-3000:])[1]
    out.seek(0)
    stdout = out.read()
    assert f"run folder: {run_dir}" in stdout
    assert "start: 24 train / 8 dev / 8 test examples, 6 steps" in stdout  # relative paths resolved
    for split in ("dev", "test"):
        section = stdout.split(f"== {split}\n", 1)[1]
        header, *rows = section.splitlines()
        assert header.split() == ["precision", "recall", "f1-score", "support"]
        assert {row.split()[0] for row in rows[:2]} <= {"LOC", "PER"}
    assert RunFolder(run_dir).read_status()["state"] == "completed"
    report = read_json(run_dir / "report.json")
    assert f"{report['test']['entities']['micro']['f1']:.3f}" in stdout.split("== test", 1)[1]


# ---- queue -------------------------------------------------------------------------------------

def test_queue_submit_refuses_what_the_worker_would_and_queues_nothing(workdir, train_config):
    """The worker's early checks (engine/preflight.py) run before anything is queued: a model
    folder that does not exist, a GPU this machine lacks."""
    home = workdir / "ws-refused"
    base = train_config.read_text()
    configs = {}
    for name, line in (("model", f'model = "{workdir / "no-such-model"}"'),
                       ("device", 'device = "cuda:99"')):
        key = line.split(" = ")[0]
        text = "\n".join(x for x in base.splitlines() if not x.startswith(f"{key} = "))
        configs[name] = workdir / f"refused-{name}.toml"
        configs[name].write_text(text + "\n" + line + "\n", encoding="utf-8")
    out = engine_many({k: ["queue", "submit", p] for k, p in configs.items()}, env_for(home))
    assert out["model"].returncode == 1, out["model"].stdout
    assert out["model"].stderr.startswith(f"error: model: model folder '{workdir / 'no-such-model'}' "
                                          "not found")
    assert out["device"].returncode == 1, out["device"].stdout
    assert out["device"].stderr.startswith("error: device: 'cuda:99' asked for")
    for r in out.values():
        assert r.stdout == "" and "Traceback" not in r.stderr
    assert not list(home.glob("runs/*")) and not (home / "queue.pid").exists()
    from engine.store import Store

    assert Store(home).list_runs() == []


@pytest.mark.slow
def test_queue_submit_list_cancel(submitted, queue_home):
    home, env = queue_home
    first_id, second_id = submitted["ids"]
    for key in ("first", "second", "cancel", "list"):
        assert submitted[key].returncode == 0, submitted[key].stderr
    assert first_id and second_id and first_id != second_id
    assert submitted["cancel"].stdout.strip() == "cancelled"
    listing = {line.split()[0]: line.split()[1] for line in submitted["list"].stdout.splitlines()}
    assert listing[second_id] == "cancelled"
    assert listing[first_id] in ("queued", "running", "completed")  # `submit` imports torch: slow
    daemon = _read_pid(home / "queue.pid")
    assert daemon and pid_alive(daemon, "queue")

    run_dir = home / "runs" / first_id
    wait_for(lambda: RunFolder(run_dir).read_status().get("state") in ("completed", "failed"), 300,
             interval=0.5, what="the queued run to finish")
    status = RunFolder(run_dir).read_status()
    assert status["state"] == "completed", status.get("error")
    assert "start:" in (run_dir / "worker.log").read_text()
    assert (run_dir / "report.json").is_file()
    assert RunFolder(home / "runs" / second_id).read_status()["state"] == "cancelled"
    assert not (home / "runs" / second_id / "worker.log").exists()
    # the CLI's changes are in the audit log and on the runs, as the machine's user
    from engine import audit

    log = [(r["action"], r["target"]) for r in reversed(audit.read(home))]
    # the two submits ran at once: their launch lines may land in either order
    assert sorted(log[:2]) == sorted([("launch", first_id), ("launch", second_id)])
    assert log[2:] == [("cancel", second_id)]
    assert {r["user"] for r in audit.read(home)} == {status["created_by"]}
    assert status["created_by"].startswith("cli:")
    wait_for(lambda: "completed" in engine("queue", "list", env=env).stdout, 30, interval=1,
             what="queue list to show the finished run")
    # a second scheduler for the same workspace refuses to start
    r = engine("queue", "serve", "--until-idle", env=env, timeout=60)
    assert r.returncode == 0 and "another scheduler" in r.stderr
    assert _read_pid(home / "queue.pid") == daemon
