"""Fabricated run folders for page tests: realistic config, status, metrics, report and
predictions, built with the engine's own builders (core/report, RunFolder) and written the
way the worker writes them, but without training; and the AppTest runners. The pytest
fixtures (store, daemon_calls, real_runs) are in conftest.py."""
from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import report as report_schema
from core.config import RunConfig, config_to_dict
from core.spans import to_spans
from engine.runfolder import RunFolder
from engine.store import Store

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 60  # seconds per script run: the first run imports torch/transformers on a busy CPU


# ---- app runners -----------------------------------------------------------------------------

def _render_page(name: str) -> None:
    import importlib

    importlib.import_module(f"pages.{name}").render()


def page_test(name: str, *, run: str | None = None) -> AppTest:
    """An AppTest of one page's render() (no navigation), already run once; ?run= when given."""
    at = AppTest.from_function(_render_page, args=(name,), default_timeout=TIMEOUT)
    if run:
        at.query_params["run"] = run
    return at.run()


def app_test() -> AppTest:
    """An AppTest of app.py, run once.

    Loaded from its source text, i.e. from a temporary folder without a pages/ directory
    beside it: AppTest re-detects Streamlit's legacy pages/ mode before every run, which
    would run pages/home.py as a script instead of app.py's navigation.
    """
    return AppTest.from_string(APP.read_text(encoding="utf-8"), default_timeout=TIMEOUT).run()


def allow_data_roots(home: Path, *roots: Path) -> None:
    """Let the dashboard read files under `roots` (workbench.toml [access] data_roots)."""
    from engine import access

    access.save(Path(home), access.Access(data_roots=tuple(str(r) for r in roots)))


AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "workbench", "client_secret": "secret",
        "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration"}


def as_user(at: AppTest, email: str | None) -> AppTest:
    """Sign-in configured ([auth] in the secrets) and `email` signed in (None: signed out)."""
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False} if email is None else {"is_logged_in": True, "email": email,
                                                            "name": email.split("@")[0]}
    return at


def no_exception(at: AppTest) -> None:
    """Assert that no uncaught exception reached the page (an st.exception element)."""
    assert not at.exception, [e.message for e in at.exception]

# the label order engine.loop.collect_labels writes: "O", then sorted
NER_LABELS = ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER"]
INTENTS = ["balance", "card_lost", "loan", "transfer"]

NAMES = {
    "PER": ["Angela Merkel", "John Smith", "Maria Garcia", "Li Wei", "Kofi Annan", "Priya Patel",
            "Tom"],
    "ORG": ["Acme Corp", "United Nations", "Siemens", "Bank of England", "Reuters", "FIFA"],
    "LOC": ["Paris", "New York", "Berlin", "Lake Geneva", "Nairobi", "Lyon"],
    "MISC": ["German", "Olympic Games", "French", "Nobel Prize", "Euro"],
}
TEMPLATES = [
    "{PER} met {PER} in {LOC} on Tuesday .",
    "{ORG} said on Monday that profits rose 5 percent .",
    "The {MISC} delegation arrived in {LOC} late last night .",
    "{PER} , chief executive of {ORG} , will step down in March .",
    "Shares of {ORG} fell after {PER} left the board .",
    "{LOC} beat {LOC} 2-1 in the {MISC} final .",
    "Officials at the {ORG} office in {LOC} declined to comment .",
    "{PER} won the {MISC} for her work on climate models .",
]
INTENT_TEXTS = {
    "balance": ["how much money is in my account", "what is my balance today",
                "show me my current balance please"],
    "card_lost": ["i lost my card yesterday", "my card was stolen at the station",
                  "please block my card i cannot find it"],
    "loan": ["can i borrow money for a car", "i need a loan to buy a van",
             "what are your loan interest rates"],
    "transfer": ["send 50 euros to my sister", "how do i transfer money abroad",
                 "move money to my savings account"],
}


# ---- sentences and predictions --------------------------------------------------------------

def ner_sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    """One template sentence with its IOB2 tags."""
    tokens, tags = [], []
    for part in rng.choice(TEMPLATES).split():
        if part.startswith("{") and part.endswith("}"):
            etype = part[1:-1]
            words = rng.choice(NAMES[etype]).split()
            tokens += words
            tags += [f"B-{etype}"] + [f"I-{etype}"] * (len(words) - 1)
        else:
            tokens.append(part)
            tags.append("O")
    return tokens, tags


def perturb(rng: random.Random, gold: list[str]) -> tuple[list[str], list[float]]:
    """Predicted tags with realistic mistakes (wrong type, boundary, missed, spurious) and
    per-token confidences."""
    pred = list(gold)
    conf = [round(rng.uniform(0.93, 0.999), 4) for _ in gold]
    types = list(NAMES)
    for etype, start, end in to_spans(gold):
        r = rng.random()
        if r < 0.08:  # wrong type
            other = rng.choice([t for t in types if t != etype])
            pred[start:end] = [f"B-{other}"] + [f"I-{other}"] * (end - start - 1)
        elif r < 0.14 and end < len(gold) and gold[end] == "O":  # boundary: one word too many
            pred[end] = f"I-{etype}"
            end += 1
        elif r < 0.19:  # missed
            pred[start:end] = ["O"] * (end - start)
        else:
            continue
        for i in range(start, end):
            conf[i] = round(rng.uniform(0.4, 0.8), 4)
    if rng.random() < 0.1:  # spurious entity on an outside word
        outside = [i for i, t in enumerate(pred) if t == "O" and gold[i] == "O"]
        if outside:
            i = rng.choice(outside)
            pred[i] = "B-MISC"
            conf[i] = round(rng.uniform(0.5, 0.7), 4)
    return pred, conf


def ner_predictions(seed: int, n_dev: int, n_test: int) -> list[dict]:
    """predictions.jsonl rows for dev and test, as engine.loop writes them."""
    rng = random.Random(seed)
    rows = []
    for split, n in (("dev", n_dev), ("test", n_test)):
        for i in range(n):
            tokens, gold = ner_sentence(rng)
            pred, conf = perturb(rng, gold)
            rows.append({"split": split, "index": i, "gold": gold, "pred": pred,
                         "tokens": tokens, "conf": conf})
    return rows


def _pred(rows: list[dict]) -> dict:
    return {"gold": [r["gold"] for r in rows], "pred": [r["pred"] for r in rows]}


def ner_split_report(rows: list[dict]) -> dict:
    """The report.json section of one NER split, built by the loop's own builder."""
    return report_schema.score_split("ner", _pred(rows), NER_LABELS, full=True)


def classification_predictions(seed: int, n_dev: int, n_test: int, multilabel: bool = False) -> list[dict]:
    """predictions.jsonl rows of a classifier (~15% wrong); multi-label rows hold label lists."""
    rng = random.Random(seed)
    rows = []
    for split, n in (("dev", n_dev), ("test", n_test)):
        for i in range(n):
            if multilabel:
                gold = sorted(rng.sample(INTENTS, rng.choice((1, 1, 2))))
                pred = gold if rng.random() > 0.25 else sorted(rng.sample(INTENTS, rng.choice((0, 1, 2))))
                probs = [round(rng.uniform(0.6, 0.99) if c in pred else rng.uniform(0.01, 0.4), 4)
                         for c in INTENTS]
                rows.append({"split": split, "index": i, "gold": gold, "pred": pred,
                             "text": " and ".join(rng.choice(INTENT_TEXTS[g]) for g in gold),
                             "probs": probs})
                continue
            gold = rng.choice(INTENTS)
            pred = gold if rng.random() > 0.15 else rng.choice([c for c in INTENTS if c != gold])
            raw = [rng.uniform(0.0, 1.0) for _ in INTENTS]
            raw[INTENTS.index(pred)] += 3.0
            total = sum(math.exp(x) for x in raw)
            probs = [round(math.exp(x) / total, 4) for x in raw]
            rows.append({"split": split, "index": i, "gold": gold, "pred": pred,
                         "text": rng.choice(INTENT_TEXTS[gold]), "probs": probs})
    return rows


def classification_split_report(rows: list[dict]) -> dict:
    """The report.json section of one text split, built by the loop's own builder."""
    task = "multilabel" if rows and isinstance(rows[0]["gold"], list) else "classification"
    return report_schema.score_split(task, _pred(rows), INTENTS, full=True)


# ---- run folders ----------------------------------------------------------------------------

def config_for(name: str, task: str = "ner", **overrides) -> dict:
    """A full, valid RunConfig dict."""
    train = {"ner": "demo:demo-ner", "classification": "demo:demo-intent"}.get(task, "demo:demo-multilabel")
    base = {"name": name, "task": task, "train": train,
            "learning_rate": 1e-4, "epochs": 3, "batch_size": 16, "log_every": 10}
    if task != "ner":
        base["metric"] = "accuracy"
    base.update(overrides)
    return config_to_dict(RunConfig(**base))


def _write_metrics(run_dir: Path, *, task: str, total: int, upto: int, epochs: int,
                   per_epoch: int, final_dev: dict, seed: int, t0: float) -> float | None:
    """start, log every 10 steps, eval at each epoch end, checkpoint after each eval; returns
    the last dev score."""
    rng = random.Random(seed)
    RunFolder(run_dir).append_metrics({"time": t0, "event": "start", "step": 0, "total_steps": total,
                             "epochs": epochs, "labels": NER_LABELS if task == "ner" else INTENTS,
                             "train_examples": 800, "dev_examples": 40, "test_examples": 40,
                             "device": "cpu", "precision": "fp32"})
    best, last = None, None
    for step in range(10, upto + 1, 10):
        warm = max(1, total // 10)
        lr = 1e-4 * (step / warm if step < warm else (total - step) / (total - warm))
        loss = 2.2 * math.exp(-step / (total / 4)) + 0.08 + rng.uniform(-0.03, 0.03)
        RunFolder(run_dir).append_metrics({"time": t0 + step * 0.5, "event": "log", "step": step,
                                 "epoch": step / per_epoch, "loss": loss, "lr": lr,
                                 "grad_norm": rng.uniform(0.5, 3.0),
                                 "tokens_per_s": rng.uniform(1400, 1600)})
        if step % per_epoch == 0:
            frac = step / total
            rec = {"time": t0 + step * 0.5 + 0.2, "event": "eval", "split": "dev", "step": step,
                   "epoch": step // per_epoch - 1}
            if task == "ner":
                per_type = {t: round(f * (0.55 + 0.45 * frac) - rng.uniform(0, 0.02), 4)
                            for t, f in final_dev["per_type_f1"].items()}
                value = final_dev["f1_micro"] * (0.6 + 0.4 * frac)
                rec.update(metric="f1_micro", value=value, f1_micro=value,
                           f1_macro=final_dev["f1_macro"] * (0.6 + 0.4 * frac), per_type_f1=per_type)
            else:
                value = final_dev["accuracy"] * (0.6 + 0.4 * frac)
                rec.update(metric="accuracy", value=value, accuracy=value,
                           f1_macro=final_dev["f1_macro"] * (0.6 + 0.4 * frac),
                           f1_micro=final_dev["f1_micro"] * (0.6 + 0.4 * frac))
            rec["best"] = best is None or value > best
            best = value if rec["best"] else best
            last = value
            RunFolder(run_dir).append_metrics(rec)
            RunFolder(run_dir).append_metrics({"time": rec["time"] + 0.1, "event": "checkpoint", "step": step,
                                     "path": str(run_dir / "checkpoints" / f"step_{step}")})
    return last


def make_run(store: Store, *, name: str = "ner-demo", task: str = "ner", state: str = "completed",
             seed: int = 0, progress: float = 1.0, n_dev: int = 40, n_test: int = 40,
             epochs: int = 3, per_epoch: int = 50, report: bool = True, error: str | None = None,
             **config) -> str:
    """A run folder as the worker leaves it in `state`; returns the run id.

    progress < 1 writes the metrics of a partly trained run; completed runs get report.json,
    predictions.jsonl and a worker.log; `error` goes to status.json (failed runs).
    """
    run_id = store.create_run(config_for(name, task, epochs=epochs, **config), state="queued")
    run_dir = store.run_dir(run_id)
    total = epochs * per_epoch
    upto = 0 if state == "queued" else int(total * progress)
    now = time.time()
    t0 = now - upto * 0.5 - 5
    rows = (ner_predictions(seed, n_dev, n_test) if task == "ner"
            else classification_predictions(seed, n_dev, n_test, multilabel=task == "multilabel"))
    split_report = ner_split_report if task == "ner" else classification_split_report
    reports = {split: split_report([r for r in rows if r["split"] == split]) for split in ("dev", "test")}
    summary = {split: report_schema.headline(task, rep) for split, rep in reports.items()}
    last_value = None
    if state != "queued":
        last_value = _write_metrics(run_dir, task=task, total=total, upto=upto, epochs=epochs,
                       per_epoch=per_epoch, final_dev=summary["dev"], seed=seed, t0=t0)
        RunFolder(run_dir).log_path.write_text(
            "".join(f"step {s}/{total} loss {2.2 * math.exp(-s / (total / 4)):.4f}\n"
                    for s in range(10, upto + 1, 10)), encoding="utf-8")
    status: dict = {"step": upto, "total_steps": total if state != "queued" else None,
                    "epoch": upto / per_epoch, "device": "cpu", "error": error,
                    "labels": NER_LABELS if task == "ner" else INTENTS}
    if state != "queued":
        status["started_at"] = t0
    if state == "running":
        status["pid"] = None
    if last_value is not None:
        status["last_eval"] = {"metric": "f1_micro" if task == "ner" else "accuracy", "value": last_value}
    if state == "completed":
        status.update(finished_at=now, summary=summary, pid=None)
        if report:
            metric = "f1_micro" if task == "ner" else "accuracy"
            full = report_schema.new_report(task, NER_LABELS if task == "ner" else INTENTS, metric,
                                            best_step=total, best_score=summary["dev"][metric],
                                            steps=total)
            RunFolder(run_dir).write_report({**full, "train_time_s": upto * 0.5 + 5, **reports})
            RunFolder(run_dir).write_predictions(rows)
            RunFolder(run_dir).append_metrics({"time": now, "event": "end", "step": total, "best_step": total,
                                     "best_score": summary["dev"][metric], "metric": metric,
                                     "summary": summary})
    store.set_state(run_id, state, **status)
    return run_id


def make_many_runs(store: Store, n: int) -> list[str]:
    """`n` light runs (config + status only) in mixed states, for table-size tests.

    Written in one database transaction without fsync: create_run's two commits and two
    fsyncs per run would take ~50 ms each on this disk, which 200 runs cannot afford.
    """
    states = ["completed", "failed", "cancelled", "interrupted"]
    now = time.time()
    rows = []
    for i in range(n):
        run_id = f"20240101-{i:06d}-sweep-{i:03d}"
        state = states[i % len(states)]
        run_dir = store.run_dir(run_id)
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(json.dumps(config_for(f"sweep-{i:03d}")), encoding="utf-8")
        status = {"state": state, "step": 150, "total_steps": 150, "epoch": 3.0, "device": "cpu",
                  "started_at": now - 100, "finished_at": now, "updated_at": now,
                  "error": "worker exited with code 1" if state == "failed" else None,
                  "summary": {"dev": {"f1_micro": 0.8 + i / 10_000, "f1_macro": 0.78,
                                      "per_type_f1": {}}}}
        (run_dir / "status.json").write_text(json.dumps(status), encoding="utf-8")
        rows.append((run_id, f"sweep-{i:03d}", "ner", state, now - 1000 + i))
    with store._db() as db:  # noqa: SLF001 - bulk insert for speed, same columns as create_run
        db.executemany("INSERT INTO runs(id, name, task, state, created_at) VALUES(?,?,?,?,?)", rows)
    return [r[0] for r in rows]
