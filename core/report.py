"""The report schema: what report.json and predictions.jsonl hold, how they are built from
predictions, and how readers take a headline score out of them. Pure (numpy and core only).

report.json (written once, at the end of a completed run):
    task        "ner" | "classification" | "multilabel"
    labels      the label inventory, in model-output order ("O" first for NER)
    metric      the selection metric ("f1_micro" | "f1_macro" | "accuracy")
    best_step   optimizer step of the best dev evaluation (None without dev)
    best_score  that evaluation's metric value (None without dev)
    steps       optimizer steps trained
    train_time_s, step_runner   wall time and how steps ran (see engine/graphs.StepRunner.stats)
    dev, test   one SPLIT SECTION each, for the splits that exist

A split section (`score_split`):
    NER             entities: core.metrics.entity_report (micro, macro, weighted, per_type:
                        {TYPE: {precision, recall, f1, support}})
                    full only: tokens (token_report), confusion {labels, matrix} over tags,
                        errors (entity_errors' per_type counts)
    classification  classes: core.metrics.classification_report (accuracy, micro, macro,
                        weighted, per_type); full only: confusion {labels, matrix}
                    two labels and rows in groups (a user, a query: TextExample.group):
                        ranking {positive (the label that counts as relevant), binary
                        (core.ranking.binary_report: ROC-AUC, average precision, curves),
                        groups (core.ranking.ranking_report: NDCG@k, MRR, recall@k, the
                        NDCG curve, the worst groups)}; candidates ranked by P(positive)
    multilabel      classes: core.metrics.multilabel_report (subset_accuracy, hamming_loss,
                        micro, macro, weighted, per_type)

predictions.jsonl, one row per dev/test example (`prediction_rows`):
    split, index (position in that split), gold, pred, and
    NER: tokens, conf (probability of each predicted tag, 4 decimals)
    text tasks: text, probs (per label in `labels` order, 4 decimals)

The headline of a split (`headline`, also in status.json "summary" and in eval events):
    NER: f1_micro, f1_macro, per_type_f1 {TYPE: f1};  text: accuracy, f1_macro, f1_micro
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

SPLITS = ("dev", "test")


def score_split(task: str, pred: dict, labels: Sequence[str], *, full: bool) -> dict:
    """A split section from one split's gold and predicted labels (`pred` holds gold, pred)."""
    from core import metrics

    gold, guess, labels = pred["gold"], pred["pred"], list(labels)
    if task == "ner":
        out = {"entities": metrics.entity_report(gold, guess)}
        if full:
            out["tokens"] = metrics.token_report(gold, guess)
            names, matrix = metrics.tag_confusion(gold, guess, labels=labels)
            out["confusion"] = {"labels": names, "matrix": np.asarray(matrix).tolist()}
            out["errors"] = metrics.entity_errors(gold, guess)["per_type"]
        return out
    if task == "multilabel":
        return {"classes": metrics.multilabel_report(gold, guess, labels=labels)}
    out = {"classes": metrics.classification_report(gold, guess, labels=labels)}
    if full:
        names, matrix = metrics.confusion(gold, guess, labels=labels)
        out["confusion"] = {"labels": names, "matrix": np.asarray(matrix).tolist()}
    groups = pred.get("groups")
    if groups is not None and len(labels) == 2 and all(g is not None for g in groups):
        out["ranking"] = ranking_section(gold, pred["probs"], labels, groups)
    return out


POSITIVE_NAMES = ("1", "true", "yes", "clicked", "click", "relevant", "positive", "bought",
                  "match", "pos")


def positive_label(labels: Sequence[str]) -> str:
    """Of two labels, the one that counts as relevant when ranking: a name such as
    'clicked', 'yes', '1' or 'relevant' (POSITIVE_NAMES, any case), else the second."""
    named = [lab for lab in labels if str(lab).strip().lower() in POSITIVE_NAMES]
    return named[0] if len(named) == 1 else labels[1]


def ranking_section(gold: Sequence[str], probs: Any, labels: Sequence[str],
                    groups: Sequence) -> dict:
    """The ranking view of a binary classifier over grouped rows (see the module docstring):
    each group's rows ranked by the probability of the positive label."""
    from core import ranking

    positive = positive_label(labels)
    column = list(labels).index(positive)
    scores = np.asarray(probs, dtype=np.float64)[:, column]
    relevance = [1.0 if g == positive else 0.0 for g in gold]
    return {"positive": positive, "binary": ranking.binary_report(relevance, scores),
            "groups": ranking.ranking_report(list(groups), relevance, scores)}


def problems(report: Any) -> list[str]:
    """What is wrong with the shape of a report.json (wrong types where readers expect a
    table), one phrase per problem naming the key; [] for a well-formed report."""
    if not isinstance(report, dict):
        return [f"the file holds {type(report).__name__}, not an object"]
    found = []
    if not isinstance(report.get("task", "ner"), str):
        found.append("task is not a string")
    if not isinstance(report.get("labels", []), list):
        found.append("labels is not a list")
    for split in SPLITS:
        if split not in report:
            continue
        section = report[split]
        if not isinstance(section, dict):
            found.append(f"{split} is not an object")
            continue
        for key in ("entities", "classes", "tokens", "confusion", "errors"):
            if key in section and not isinstance(section[key], dict):
                found.append(f"{split}.{key} is not an object")
        for key in ("entities", "classes", "tokens"):
            table = section.get(key)
            if isinstance(table, dict):
                for part, value in table.items():
                    if part in ("micro", "macro", "weighted", "per_type") and not isinstance(value, dict):
                        found.append(f"{split}.{key}.{part} is not an object")
                per_type = table.get("per_type")
                if isinstance(per_type, dict) and not all(isinstance(v, dict) for v in per_type.values()):
                    found.append(f"{split}.{key}.per_type holds a row that is not an object")
    return found


def scores_of(section: Any) -> dict:
    """The score table of a split section: its entities (NER) or classes (text); {} if none."""
    if not isinstance(section, dict):
        return {}
    table = section.get("entities") or section.get("classes")
    return table if isinstance(table, dict) else {}


def accuracy_of(table: dict) -> float | None:
    """Accuracy of a classes table: plain accuracy, or exact-match (subset) for multi-label."""
    value = table.get("accuracy", table.get("subset_accuracy"))
    return None if value is None else float(value)


def f1_of(table: dict, average: str) -> float | None:
    """The micro / macro / weighted F1 of a score table, None when absent."""
    value = (table.get(average) or {}).get("f1")
    return None if value is None else float(value)


def metric_value(task: str, metric: str, section: dict) -> float:
    """The run's selection metric (higher is better) from a split section."""
    table = scores_of(section)
    if task != "ner" and metric == "accuracy":
        return accuracy_of(table) or 0.0
    return float(table["macro" if metric == "f1_macro" else "micro"]["f1"])


def headline(task: str, section: dict) -> dict:
    """The few numbers a split is summarised by (status.json summary, eval events)."""
    table = scores_of(section)
    if task == "ner":
        return {"f1_micro": table["micro"]["f1"], "f1_macro": table["macro"]["f1"],
                "per_type_f1": {t: v["f1"] for t, v in table["per_type"].items()}}
    return {"accuracy": accuracy_of(table), "f1_macro": table["macro"]["f1"],
            "f1_micro": table["micro"]["f1"]}


def summary(report: dict) -> dict:
    """{split: headline} for the splits a report holds (status.json "summary")."""
    return {split: headline(report["task"], report[split]) for split in SPLITS if split in report}


def split_score(report: Any, split: str, average: str) -> float | None:
    """micro / macro F1 or accuracy (average="accuracy") of one split of a report, 0..1."""
    if not isinstance(report, dict):
        return None
    table = scores_of(report.get(split))
    return accuracy_of(table) if average == "accuracy" else f1_of(table, average)


def status_headline(status: dict, split: str = "dev") -> float | None:
    """The split's headline score from status.json: micro F1 (NER) or accuracy; for dev,
    the last evaluation's value while the run has no summary yet."""
    part = (status.get("summary") or {}).get(split) or {}
    value = part.get("f1_micro") if "per_type_f1" in part else part.get("accuracy")
    if value is None and split == "dev":
        value = (status.get("last_eval") or {}).get("value")
    return value


def new_report(task: str, labels: Sequence[str], metric: str, *, best_step: int | None,
               best_score: float | None, steps: int) -> dict:
    """A report's top-level fields; split sections are added under "dev" / "test"."""
    return {"task": task, "labels": list(labels), "metric": metric, "best_step": best_step,
            "best_score": best_score, "steps": steps}


def prediction_rows(task: str, split: str, records: Sequence, pred: dict) -> Iterator[dict]:
    """predictions.jsonl rows for one split (records: its TokenExample / TextExample list)."""
    for i, ex in enumerate(records):
        row = {"split": split, "index": i, "gold": pred["gold"][i], "pred": pred["pred"][i]}
        if task == "ner":
            row.update(tokens=list(ex.tokens), conf=pred["conf"][i])
        else:
            row.update(text=ex.text, probs=np.round(pred["probs"][i], 4).tolist())
        yield row
