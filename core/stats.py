"""Dataset statistics as long-format polars DataFrames, ready for altair charts.

Every function takes `splits`, a dict from split name ("train", "dev", "test", ...) to a list
of TokenExample (NER) or TextExample (classification), and returns a frame with fixed column
names and dtypes (counts and lengths Int64, rates Float64). Rows follow the splits' dict order,
then the other key columns ascending, so output is deterministic. An empty split contributes
no rows to per-item frames and a zero row to per-split frames; an empty dict gives a frame of
the right schema and zero rows. Out-of-vocabulary figures are relative to the `reference`
split ("train"); when it is absent they are null.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import polars as pl

from core.errors import ConfigError
from core.records import TextExample, TokenExample
from core.spans import to_spans

TokenSplits = Mapping[str, Sequence[TokenExample]]
TextSplits = Mapping[str, Sequence[TextExample]]

_STR_LIST = pl.List(pl.String)


# ---------------------------------------------------------------------------- frames of items

def _sentence_frame(splits: TokenSplits) -> pl.DataFrame:
    """One row per sentence: split, tokens (list), tags (list)."""
    names = [name for name, examples in splits.items() for _ in examples]
    return pl.DataFrame(
        {"split": names,
         "tokens": [list(ex.tokens) for examples in splits.values() for ex in examples],
         "tags": [list(ex.tags) for examples in splits.values() for ex in examples]},
        schema={"split": pl.String, "tokens": _STR_LIST, "tags": _STR_LIST})


def _entity_frame(splits: TokenSplits) -> pl.DataFrame:
    """One row per entity: split, type, length (tokens), surface (tokens joined by a space)."""
    rows = [(name, type_, end - start, " ".join(ex.tokens[start:end]))
            for name, examples in splits.items() for ex in examples
            for type_, start, end in to_spans(ex.tags)]
    return pl.DataFrame(rows, orient="row", schema={
        "split": pl.String, "type": pl.String, "length": pl.Int64, "surface": pl.String})


def _text_frame(splits: TextSplits) -> pl.DataFrame:
    """One row per text: split, text, labels (list)."""
    return pl.DataFrame(
        {"split": [name for name, examples in splits.items() for _ in examples],
         "text": [ex.text for examples in splits.values() for ex in examples],
         "labels": [list(ex.labels) for examples in splits.values() for ex in examples]},
        schema={"split": pl.String, "text": pl.String, "labels": _STR_LIST})


def _split_frame(splits: Mapping[str, Sequence[object]], count: str) -> pl.DataFrame:
    """One row per split (empty ones included): split, `count` = number of examples."""
    return pl.DataFrame({"split": list(splits), count: [len(v) for v in splits.values()]},
                        schema={"split": pl.String, count: pl.Int64})


def _order(frame: pl.DataFrame, splits: Mapping[str, object], *keys: str) -> pl.DataFrame:
    """Sort by the splits' dict order, then by `keys` ascending."""
    rank = {name: i for i, name in enumerate(splits)}
    return frame.sort([pl.col("split").replace_strict(rank, return_dtype=pl.Int64), *keys])


def _count(frame: pl.DataFrame, splits: Mapping[str, object], key: str) -> pl.DataFrame:
    """[split, key, count]: rows of `frame` per (split, key)."""
    counted = frame.group_by("split", key).agg(pl.len().cast(pl.Int64).alias("count"))
    return _order(counted, splits, key)


def _rate(numerator: str, denominator: str) -> pl.Expr:
    """numerator / denominator, null where the denominator is 0."""
    return (pl.when(pl.col(denominator) > 0)
            .then(pl.col(numerator) / pl.col(denominator))
            .otherwise(None).cast(pl.Float64))


# ---------------------------------------------------------------------------- NER

def label_counts(splits: TokenSplits) -> pl.DataFrame:
    """[split, label, count]: token tags per split, O included."""
    tags = _sentence_frame(splits).select("split", pl.col("tags").alias("label")).explode("label")
    return _count(tags, splits, "label")


def entity_counts(splits: TokenSplits) -> pl.DataFrame:
    """[split, type, count]: entities (decoded with core.spans.to_spans) per split and type."""
    return _count(_entity_frame(splits).select("split", "type"), splits, "type")


def sentence_lengths(splits: TokenSplits) -> pl.DataFrame:
    """[split, length]: one row per sentence, its number of tokens."""
    lengths = _sentence_frame(splits).select(
        "split", pl.col("tokens").list.len().cast(pl.Int64).alias("length"))
    return _order(lengths, splits, "length")


def entity_lengths(splits: TokenSplits) -> pl.DataFrame:
    """[split, type, length]: one row per entity, its number of tokens."""
    return _order(_entity_frame(splits).select("split", "type", "length"),
                  splits, "type", "length")


def _tokens(splits: TokenSplits, lowercase: bool) -> pl.DataFrame:
    """[split, token]: one row per token occurrence, lowercased if asked."""
    tokens = _sentence_frame(splits).select("split", pl.col("tokens").alias("token"))
    tokens = tokens.explode("token")
    return tokens.with_columns(pl.col("token").str.to_lowercase()) if lowercase else tokens


def _seen(frame: pl.DataFrame, column: str, reference: str, known: bool) -> pl.Expr:
    """Whether `column` occurs in the reference split's rows; null when there is no reference."""
    if not known:
        return pl.lit(None, dtype=pl.Boolean)
    vocab = frame.filter(pl.col("split") == reference)[column].unique()
    return pl.col(column).is_in(vocab.implode())


def vocabulary(splits: TokenSplits, *, lowercase: bool = False,
               reference: str = "train") -> pl.DataFrame:
    """[split, sentences, tokens, entities, vocab_size, oov_tokens, oov_rate] per split.

    oov_tokens counts token occurrences whose form is not in the reference split's vocabulary;
    oov_rate = oov_tokens / tokens (null for a split without tokens), 0.0 for the reference.
    """
    tokens = _tokens(splits, lowercase)
    known = reference in splits
    tokens = tokens.with_columns(_seen(tokens, "token", reference, known).alias("seen"))
    per_split = tokens.group_by("split").agg(
        pl.len().cast(pl.Int64).alias("tokens"),
        pl.col("token").n_unique().cast(pl.Int64).alias("vocab_size"),
        (~pl.col("seen")).sum().cast(pl.Int64).alias("oov_tokens"))
    entities = _entity_frame(splits).group_by("split").agg(
        pl.len().cast(pl.Int64).alias("entities"))
    frame = (_split_frame(splits, "sentences")
             .join(per_split, on="split", how="left")
             .join(entities, on="split", how="left")
             .with_columns(pl.col("tokens", "vocab_size", "entities").fill_null(0)))
    # without a reference OOV is undefined; else an empty split has 0 OOV of 0 tokens
    frame = frame.with_columns(pl.col("oov_tokens").fill_null(0) if known
                               else pl.lit(None, dtype=pl.Int64).alias("oov_tokens"))
    frame = frame.with_columns(_rate("oov_tokens", "tokens").alias("oov_rate"))
    return frame.select("split", "sentences", "tokens", "entities", "vocab_size",
                        "oov_tokens", "oov_rate")


def entity_oov(splits: TokenSplits, *, lowercase: bool = False,
               reference: str = "train") -> pl.DataFrame:
    """[split, entities, unseen, unseen_rate]: entity mentions whose surface string
    (tokens joined by a space, type ignored) never occurs as an entity in the reference split."""
    entities = _entity_frame(splits).select("split", "surface")
    if lowercase:
        entities = entities.with_columns(pl.col("surface").str.to_lowercase())
    known = reference in splits
    entities = entities.with_columns(_seen(entities, "surface", reference, known).alias("seen"))
    per_split = entities.group_by("split").agg(
        pl.len().cast(pl.Int64).alias("entities"),
        (~pl.col("seen")).sum().cast(pl.Int64).alias("unseen"))
    frame = (pl.DataFrame({"split": list(splits)}, schema={"split": pl.String})
             .join(per_split, on="split", how="left")
             .with_columns(pl.col("entities").fill_null(0)))
    # without a reference "unseen" is undefined; else a split without entities has 0 of 0
    frame = frame.with_columns(pl.col("unseen").fill_null(0) if known
                               else pl.lit(None, dtype=pl.Int64).alias("unseen"))
    frame = frame.with_columns(_rate("unseen", "entities").alias("unseen_rate"))
    return frame.select("split", "entities", "unseen", "unseen_rate")


# ---------------------------------------------------------------------------- classification

def class_counts(splits: TextSplits) -> pl.DataFrame:
    """[split, label, count]: examples per label; a multi-label example counts for each label."""
    labels = _text_frame(splits).select("split", pl.col("labels").alias("label")).explode("label")
    return _count(labels, splits, "label")


def text_lengths(splits: TextSplits) -> pl.DataFrame:
    """[split, words, chars]: one row per text; words are runs of non-whitespace."""
    lengths = _text_frame(splits).select(
        "split",
        pl.col("text").str.count_matches(r"\S+").cast(pl.Int64).alias("words"),
        pl.col("text").str.len_chars().cast(pl.Int64).alias("chars"))
    return _order(lengths, splits, "words", "chars")


def label_cardinality(splits: TextSplits) -> pl.DataFrame:
    """[split, labels, count]: how many examples carry 0, 1, 2, ... labels."""
    sizes = _text_frame(splits).select(
        "split", pl.col("labels").list.len().cast(pl.Int64).alias("labels"))
    return _count(sizes, splits, "labels")


# ---------------------------------------------------------------------------- headline numbers

def _mean(values: pl.Series) -> float | None:
    """Mean of a numeric series, None when empty."""
    return float(values.mean()) if len(values) else None  # type: ignore[arg-type]


def _ner_summary(splits: TokenSplits) -> dict[str, dict[str, float | int | None]]:
    """Headline numbers per split for token-classification data."""
    vocab = {row["split"]: row for row in vocabulary(splits).iter_rows(named=True)}
    unseen = {row["split"]: row for row in entity_oov(splits).iter_rows(named=True)}
    lengths = sentence_lengths(splits)
    entities = _entity_frame(splits)
    out: dict[str, dict[str, float | int | None]] = {}
    for name in splits:
        out[name] = {
            "sentences": vocab[name]["sentences"],
            "tokens": vocab[name]["tokens"],
            "entities": vocab[name]["entities"],
            "entity_types": entities.filter(pl.col("split") == name)["type"].n_unique(),
            "mean_length": _mean(lengths.filter(pl.col("split") == name)["length"]),
            "vocab_size": vocab[name]["vocab_size"],
            "oov_rate": vocab[name]["oov_rate"],
            "entity_oov_rate": unseen[name]["unseen_rate"],
        }
    return out


def _text_summary(splits: TextSplits) -> dict[str, dict[str, float | int | None]]:
    """Headline numbers per split for text-classification data."""
    lengths = text_lengths(splits)
    frame = _text_frame(splits)
    out: dict[str, dict[str, float | int | None]] = {}
    for name in splits:
        rows = frame.filter(pl.col("split") == name)
        sizes = rows["labels"].list.len()
        out[name] = {
            "examples": rows.height,
            "labels": rows["labels"].explode().drop_nulls().n_unique(),
            "mean_words": _mean(lengths.filter(pl.col("split") == name)["words"]),
            "mean_chars": _mean(lengths.filter(pl.col("split") == name)["chars"]),
            "cardinality": _mean(sizes),
        }
    return out


def summary(splits: Mapping[str, Sequence[TokenExample] | Sequence[TextExample]], *,
            task: str | None = None) -> dict[str, dict[str, float | int | None]]:
    """{split: {name: number}} for metric cards; None where a mean or rate is undefined.

    task: "ner" or "classification"; inferred from the first example when None (an entirely
    empty dict counts as "ner"). NER keys: sentences, tokens, entities, entity_types,
    mean_length, vocab_size, oov_rate, entity_oov_rate. Classification keys: examples,
    labels, mean_words, mean_chars, cardinality (mean labels per example).
    """
    if task is None:
        first = next((ex for examples in splits.values() for ex in examples), None)
        task = "classification" if isinstance(first, TextExample) else "ner"
    if task == "ner":
        return _ner_summary(splits)  # type: ignore[arg-type]
    if task == "classification":
        return _text_summary(splits)  # type: ignore[arg-type]
    raise ConfigError(f"unknown task {task!r}; expected 'ner' or 'classification'")
