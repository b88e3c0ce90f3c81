"""Tag schemes of NER data: detect, validate, convert, and diagnose a dataset's problems.

Built on core.spans: a sequence is read into entity spans leniently (to_spans) and written
back in a scheme (from_spans). An entity "fits" a scheme when its tags are exactly what
from_spans writes for it in that scheme; a sequence is valid in a scheme when all of its
entities fit. Detection picks the scheme that the most entities fit, so that a mostly-IOB2
file with a few orphan I- tags is read as IOB2 with a few warnings rather than as IOB1.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

from core.errors import ConfigError
from core.records import TokenExample
from core.spans import SCHEMES, Span, from_spans, split_tag, to_spans

# Prefixes each scheme may use ("" for PLAIN: labels carry no prefix at all).
_ALPHABET = {"IOB1": "BI", "IOB2": "BI", "IOE1": "IE", "IOE2": "IE",
             "IOBES": "BIES", "BILOU": "BILU", "PLAIN": ""}
# Tie-break when two schemes fit equally many entities (after the prefix rules, see _choose).
_PREFERENCE = ("IOB2", "IOB1", "IOBES", "BILOU", "IOE2", "IOE1", "PLAIN")
_DESCRIPTIONS = {
    "IOB1": "IOB1 (CoNLL-2003 style): I- marks entity tokens; B- only starts an entity "
            "that directly follows one of the same type.",
    "IOB2": "IOB2 (BIO): every entity starts with B- and continues with I-.",
    "IOE1": "IOE1: I- marks entity tokens; E- only ends an entity that is directly "
            "followed by one of the same type.",
    "IOE2": "IOE2: every entity continues with I- and ends with E-.",
    "IOBES": "IOBES (BIOES): B- begins, I- continues and E- ends a multi-token entity; "
             "S- marks a single-token entity.",
    "BILOU": "BILOU: B- begins, I- continues and L- ends a multi-token entity; "
             "U- marks a single-token (unit) entity.",
    "PLAIN": "Plain labels without prefixes (PER, LOC): a run of one label is one entity, "
             "so adjacent entities of the same type merge.",
}
SEVERITIES = ("error", "warning", "info")
# Diagnostic codes a tag rewrite (repair or conversion) removes.
TAG_CODES = frozenset({"orphan-inside", "type-change-inside", "unclosed-entity", "orphan-end",
                       "needless-begin", "needless-end", "foreign-prefix", "missing-prefix",
                       "mixed-scheme", "scheme-mismatch"})
FIX_CODES = ("repair-orphans", "convert", "drop-empty", "drop-duplicates")
_REFERENCE_SPLIT = "train"


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a dataset, for the UI table and the `validate` command.

    source: split name ("train", "dev", ...); line: 1-based source line of the token or
    sentence (None when unknown or not tied to one place); sentence: index in the split.
    """

    severity: str
    code: str
    message: str
    source: str
    line: int | None = None
    sentence: int | None = None


@dataclass(frozen=True)
class Fix:
    """A one-click repair the UI offers; apply it to each split with apply_fix."""

    code: str
    target: str | None = None
    description: str = ""


@dataclass
class _Profile:
    """What detection needs from a collection of tag sequences."""

    votes: Counter = field(default_factory=Counter)  # scheme -> entities that fit it
    prefixes: set = field(default_factory=set)  # raw prefixes seen; "" for a plain label
    all_start_b: bool = True  # every entity's first tag is B-
    all_end_e: bool = True  # every entity's last tag is E-
    entities: int = 0


# ---------------------------------------------------------------- schemes


def describe_scheme(name: str) -> str:
    """One-line human description of a tag scheme, for the UI."""
    check_scheme(name)
    return _DESCRIPTIONS[name]


def check_scheme(name: str) -> str:
    """`name` if it is one of SCHEMES, else a ConfigError listing them."""
    if name not in SCHEMES:
        raise ConfigError(f"unknown tag scheme {name!r}; choose one of {', '.join(SCHEMES)}")
    return name


def _parse(tag: str) -> tuple[str, str]:
    """(prefix, type) with prefix '' for a plain label: ('B','PER'), ('','PER'), ('O','')."""
    prefix, type_ = split_tag(tag)
    if prefix != "O" and type_ == tag:
        return "", type_
    return prefix, type_


def _entity_fits(tags: Sequence[str]) -> list[tuple[Span, frozenset[str]]]:
    """Each entity of `tags` with the schemes whose encoding of it matches the tags exactly."""
    tags = tuple(tags)
    spans = to_spans(tags)
    if not spans:
        return []
    written = {s: from_spans(spans, len(tags), s) for s in SCHEMES}
    return [(span, frozenset(s for s in SCHEMES
                             if written[s][span[1]:span[2]] == tags[span[1]:span[2]]))
            for span in spans]


def _add_to_profile(profile: _Profile, tags: Sequence[str],
                    fits: list[tuple[Span, frozenset[str]]]) -> None:
    """Count one sequence's entities and prefixes into `profile`."""
    profile.prefixes.update(_parse(t)[0] for t in tags if t != "O")
    for (_, start, end), schemes in fits:
        profile.votes.update(schemes)
        profile.entities += 1
        profile.all_start_b &= _parse(tags[start])[0] == "B"
        profile.all_end_e &= _parse(tags[end - 1])[0] == "E"


def _rule_scheme(profile: _Profile) -> str:
    """The scheme the prefix rules name (L/U: BILOU; S, or E with B: IOBES; ...)."""
    p = profile.prefixes
    if p & {"L", "U"}:
        return "BILOU"
    if "S" in p or {"E", "B"} <= p:
        return "IOBES"
    if "E" in p:
        return "IOE2" if profile.all_end_e else "IOE1"
    if p & {"B", "I"}:
        return "IOB2" if profile.all_start_b else "IOB1"
    return "PLAIN" if "" in p else "IOB2"


def _choose(profile: _Profile, prefer: str | None = None) -> str:
    """The scheme most entities fit; ties go to `prefer`, then the prefix rules, then IOB2."""
    if not profile.entities:  # only O: any scheme reads it; training uses IOB2
        return prefer or "IOB2"
    best = max(profile.votes[s] for s in SCHEMES)
    tied = [s for s in SCHEMES if profile.votes[s] == best]
    for candidate in (prefer, _rule_scheme(profile), *_PREFERENCE):
        if candidate in tied:
            return candidate
    return tied[0]  # unreachable: _PREFERENCE lists every scheme


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """The tag scheme of a collection of tag sequences, one of SCHEMES.

    The scheme that the most entities fit exactly; on samples that fit one scheme only this
    agrees with the prefix rules: any L-/U- is BILOU; S-, or E- with B-, IOBES; E- without
    B- is IOE2 when every entity ends with E-, else IOE1; B-/I- only is IOB2 when every
    entity starts with B-, else IOB1; labels without prefixes are PLAIN. Ties go to the
    prefix rules. Data with only O (or nothing) is reported as IOB2, the scheme training uses.
    """
    profile = _Profile()
    for tags in tag_sequences:
        _add_to_profile(profile, tags, _entity_fits(tags))
    return _choose(profile)


def convert_tags(tags: Sequence[str], target: str) -> tuple[str, ...]:
    """`tags` rewritten in scheme `target`, keeping the (leniently read) entity spans."""
    check_scheme(target)
    return from_spans(to_spans(tags), len(tags), target)


def convert_examples(examples: list[TokenExample], target: str) -> list[TokenExample]:
    """Every example with its tags converted to `target`; tokens, doc and line kept."""
    check_scheme(target)
    return [replace(ex, tags=convert_tags(ex.tags, target)) for ex in examples]


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    """Whether `tags` is strictly valid in `scheme` (every tag where the scheme puts it)."""
    check_scheme(scheme)
    return not _violations(tags, scheme)


# ---------------------------------------------------------------- transitions


def _violations(tags: Sequence[str], scheme: str) -> list[tuple[int, str, str]]:
    """(token index, code, message) for every tag that `scheme` does not allow where it is."""
    parsed = [_parse(t) for t in tags]
    found = []
    for i, (prefix, type_) in enumerate(parsed):
        if prefix == "O":
            continue
        prev = parsed[i - 1] if i else None
        nxt = parsed[i + 1] if i + 1 < len(parsed) else None
        prev_text = repr(tags[i - 1]) if i else "the sentence start"
        next_text = repr(tags[i + 1]) if i + 1 < len(tags) else "the sentence end"
        for code, message in _check_tag(tags[i], prefix, type_, prev, nxt, prev_text,
                                        next_text, scheme):
            found.append((i, code, message))
    return found


def _check_tag(tag: str, prefix: str, type_: str, prev: tuple[str, str] | None,
               nxt: tuple[str, str] | None, prev_text: str, next_text: str,
               scheme: str) -> list[tuple[str, str]]:
    """(code, message) for each rule of `scheme` that tag breaks next to prev and nxt."""
    alphabet = _ALPHABET[scheme]
    if scheme == "PLAIN":
        return [("foreign-prefix", f"{tag!r} has a prefix, but PLAIN labels have none; "
                                   "convert the file to one scheme.")] if prefix else []
    if not prefix:
        return [("missing-prefix", f"{tag!r} has no prefix, which {scheme} needs "
                                   f"({'/'.join(alphabet)}-); convert the file to one scheme.")]
    if prefix not in alphabet:
        return [("foreign-prefix", f"{tag!r} uses the prefix {prefix}-, which {scheme} does not "
                                   f"have ({'/'.join(alphabet)}-); convert the file to one "
                                   "scheme.")]
    single, last = ("U", "L") if scheme == "BILOU" else ("S", "E")
    continues_prev = prev is not None and prev[1] == type_ and prev[0] in ("B", "I")
    continues_next = nxt is not None and nxt[1] == type_ and nxt[0] in ("I", last)
    # An adjacent entity of the same type (IOB1 B- and IOE1 E- exist only to mark one).
    same_prev = prev is not None and prev[1] == type_ and prev[0] in tuple(alphabet)
    same_next = nxt is not None and nxt[1] == type_ and nxt[0] in tuple(alphabet)
    found = []
    if scheme == "IOB1" and prefix == "B" and not same_prev:
        found.append(("needless-begin", f"{tag!r} follows {prev_text}: in IOB1, B- only "
                                        f"separates two adjacent {type_} entities; write "
                                        f"'I-{type_}' here or convert the file to IOB2."))
    if scheme == "IOE1" and prefix == "E" and not same_next:
        found.append(("needless-end", f"{tag!r} precedes {next_text}: in IOE1, E- only "
                                      f"separates two adjacent {type_} entities; write "
                                      f"'I-{type_}' here or convert the file to IOE2."))
    opens_with = "B-" if scheme == "IOB2" else f"B- or {single}-"
    if scheme in ("IOB2", "IOBES", "BILOU") and prefix == "I" and not continues_prev:
        found.append(_broken_inside(tag, type_, prev, prev_text, scheme, opens_with))
    if scheme in ("IOBES", "BILOU") and prefix == last and not continues_prev:
        found.append(("orphan-end", f"{tag!r} follows {prev_text}, so it closes an entity "
                                    f"that was never opened: in {scheme} write "
                                    f"'{single}-{type_}' for a one-token entity or open it "
                                    f"with 'B-{type_}'."))
    needs_close = (scheme in ("IOBES", "BILOU") and prefix in "BI") or (
        scheme == "IOE2" and prefix == "I")
    if needs_close and not continues_next:
        ending = f"'{last}-{type_}'" + ("" if scheme == "IOE2" else
                                        f" (or be '{single}-{type_}' if one token long)")
        found.append(("unclosed-entity", f"{tag!r} is followed by {next_text}, so the {type_} "
                                         f"entity never closes: in {scheme} it must end with "
                                         f"{ending}."))
    return found


def _broken_inside(tag: str, type_: str, prev: tuple[str, str] | None, prev_text: str,
                   scheme: str, opens_with: str) -> tuple[str, str]:
    """The orphan-inside or type-change-inside finding for an I- that continues nothing."""
    if prev is not None and prev[0] not in ("O", "") and prev[1] != type_:
        return ("type-change-inside", f"{tag!r} follows {prev_text}: in {scheme} an I- tag "
                                      f"cannot change the entity type; start the {type_} "
                                      f"entity with 'B-{type_}' or correct the type.")
    return ("orphan-inside", f"{tag!r} follows {prev_text}, so it starts an entity without "
                             f"{opens_with}: in {scheme} write 'B-{type_}' here (the repair "
                             "fix does this).")


# ---------------------------------------------------------------- diagnostics


def _token_line(example: TokenExample, index: int) -> int | None:
    """1-based source line of token `index` (one token a line), None when lines are unknown."""
    return example.line + index if example.line > 0 else None


def _sentence_line(example: TokenExample) -> int | None:
    """1-based source line of the sentence's first token, None when unknown."""
    return example.line if example.line > 0 else None


def _count(n: int, singular: str, plural: str) -> str:
    """'1 entity', '3 entities'."""
    return f"{n} {singular if n == 1 else plural}"


def _place(example: TokenExample, sentence: int, index: int = 0) -> str:
    """'line N' of token `index` when lines are known, else 'sentence K'."""
    line = _token_line(example, index)
    return f"line {line}" if line else f"sentence {sentence}"


def _check_structure(name: str, examples: list[TokenExample]) -> list[Diagnostic]:
    """Empty sentences and sentences whose tag count differs from their token count."""
    found = []
    for k, ex in enumerate(examples):
        if not ex.tokens:
            found.append(Diagnostic("error", "empty-sentence",
                                    "The sentence has no tokens; remove it (drop-empty fix) or "
                                    "check for doubled blank lines.", name,
                                    _sentence_line(ex), k))
        elif len(ex.tags) != len(ex.tokens):
            found.append(Diagnostic("error", "length-mismatch",
                                    f"The sentence has {len(ex.tokens)} tokens but "
                                    f"{len(ex.tags)} tags; give every token exactly one tag.",
                                    name, _sentence_line(ex), k))
    return found


def _check_transitions(name: str, examples: list[TokenExample],
                       fits: list[list[tuple[Span, frozenset[str]]]],
                       scheme: str) -> list[Diagnostic]:
    """A warning per tag that `scheme` does not allow where it stands."""
    found = []
    for k, (ex, sentence_fits) in enumerate(zip(examples, fits)):
        if all(scheme in schemes for _, schemes in sentence_fits):
            continue  # every entity is written exactly as the scheme writes it
        for i, code, message in _violations(ex.tags, scheme):
            found.append(Diagnostic("warning", code, message, name, _token_line(ex, i), k))
    return found


def _check_mixing(name: str, examples: list[TokenExample],
                  fits: list[list[tuple[Span, frozenset[str]]]],
                  scheme: str) -> list[Diagnostic]:
    """One warning when some entities of a split are written in a scheme other than `scheme`.

    'mixed-scheme' when other entities show `scheme`'s own pattern, 'scheme-mismatch' when
    none does (the whole split is in another scheme).
    """
    misfits = [(k, span, schemes) for k, sentence_fits in enumerate(fits)
               for span, schemes in sentence_fits if scheme not in schemes and schemes]
    if not misfits:
        return []
    alt_votes = Counter(s for _, _, schemes in misfits for s in schemes)
    alt = max(_PREFERENCE, key=lambda s: (alt_votes[s], -_PREFERENCE.index(s)))
    own = sum(1 for sentence_fits in fits for _, schemes in sentence_fits
              if scheme in schemes and alt not in schemes)
    k, (_, start, _), _ = misfits[0]
    line = _token_line(examples[k], start)
    where = f"first at {_place(examples[k], k, start)}"
    if own:
        return [Diagnostic("warning", "mixed-scheme",
                           f"{_count(len(misfits), 'entity', 'entities')} written in {alt} "
                           f"style ({where}) "
                           f"while the rest of {name} is {scheme}; convert the split to "
                           f"{scheme} so every entity uses one scheme (spans are kept).",
                           name, line, k)]
    return [Diagnostic("warning", "scheme-mismatch",
                       f"{name} is written in {alt}, not {scheme} "
                       f"({_count(len(misfits), 'entity', 'entities')} not fitting {scheme}, "
                       f"{where}); convert it to {scheme} or choose "
                       f"{alt} as the scheme.", name, line, k)]


def _check_split_schemes(splits: dict[str, list[TokenExample]], schemes: dict[str, str],
                         fits: dict[str, list], reference: str) -> list[Diagnostic]:
    """A warning for each split whose detected scheme differs from the reference split's."""
    found = []
    ref_scheme = schemes[reference]
    for name, scheme in schemes.items():
        has_entities = any(fits[name])
        if name == reference or scheme == ref_scheme or not has_entities:
            continue
        # A split read differently from the reference has an entity the reference misfits.
        k, start = next(((k, span[1]) for k, sentence_fits in enumerate(fits[name])
                         for span, fit in sentence_fits if ref_scheme not in fit), (0, 0))
        line = _token_line(splits[name][k], start)
        found.append(Diagnostic("warning", "scheme-mismatch",
                                f"{name} is written in {scheme} but {reference} in "
                                f"{ref_scheme}; convert every split to {ref_scheme} so the "
                                "model sees one tag set (spans are kept).", name, line, k))
    return found


def _first_entities(examples: list[TokenExample]) -> tuple[Counter, dict[str, tuple[int, int]]]:
    """Entity count per type, and (sentence, token) of each type's first entity."""
    counts: Counter = Counter()
    first: dict[str, tuple[int, int]] = {}
    for k, ex in enumerate(examples):
        for type_, start, _ in to_spans(ex.tags):
            counts[type_] += 1
            first.setdefault(type_, (k, start))
    return counts, first


def _check_labels(splits: dict[str, list[TokenExample]], reference: str,
                  rare_threshold: int) -> list[Diagnostic]:
    """Rare entity types in the reference split, and types other splits have but it lacks."""
    found = []
    ref_counts, ref_first = _first_entities(splits[reference])
    for type_, count in sorted(ref_counts.items()):
        if count < rare_threshold:
            k, i = ref_first[type_]
            found.append(Diagnostic("warning", "rare-label",
                                    f"Entity type {type_!r} has only "
                                    f"{_count(count, 'example', 'examples')} in "
                                    f"{reference} (fewer than {rare_threshold}); expect poor "
                                    "recall on it: add examples or merge it into another "
                                    "type.", reference, _token_line(splits[reference][k], i), k))
    for name, examples in splits.items():
        if name == reference:
            continue
        counts, first = _first_entities(examples)
        for type_ in sorted(set(counts) - set(ref_counts)):
            k, i = first[type_]
            line = _token_line(examples[k], i)
            where = f"first at {_place(examples[k], k, i)}"
            found.append(Diagnostic("warning", "unseen-label",
                                    f"Entity type {type_!r} appears "
                                    f"{_count(counts[type_], 'time', 'times')} in "
                                    f"{name} ({where}) but never in {reference}; the model "
                                    f"cannot learn it: add {reference} examples or map it "
                                    "to O.", name, line, k))
    return found


def _check_lengths(name: str, examples: list[TokenExample], max_subwords: int | None,
                   counts: list[int] | None) -> list[Diagnostic]:
    """A warning per sentence with more subword tokens than the model takes at once."""
    if max_subwords is None or counts is None:
        return []
    if len(counts) != len(examples):
        raise ValueError(f"subword_counts[{name!r}] has {len(counts)} entries for "
                         f"{len(examples)} sentences")
    return [Diagnostic("warning", "long-sentence",
                       f"The sentence has {n} subword tokens, more than the limit of "
                       f"{max_subwords}; it will be split into overlapping windows.",
                       name, _sentence_line(examples[k]), k)
            for k, n in enumerate(counts) if n > max_subwords]


def _check_duplicates_within(name: str, examples: list[TokenExample]) -> list[Diagnostic]:
    """Info on repeated sentences in a split; a warning where repeats disagree on tags."""
    seen: dict[tuple[str, ...], int] = {}
    repeats: list[tuple[int, int]] = []  # (sentence, index of its first occurrence)
    found = []
    for k, ex in enumerate(examples):
        if not ex.tokens:
            continue
        first = seen.setdefault(ex.tokens, k)
        if first == k:
            continue
        repeats.append((k, first))
        if examples[first].tags != ex.tags:
            found.append(Diagnostic("warning", "conflicting-duplicate",
                                    "The sentence repeats the one at "
                                    f"{_place(examples[first], first)} with different tags; "
                                    "annotate both copies the same way.",
                                    name, _sentence_line(ex), k))
    if repeats:
        k, first = repeats[0]
        found.append(Diagnostic("info", "duplicate-within-split",
                                f"{_count(len(repeats), 'sentence', 'sentences')} of {name} "
                                "repeat an earlier one "
                                f"(first repeat at {_place(examples[k], k)}, a copy of "
                                f"{_place(examples[first], first)}); repeats weigh more in "
                                "training: drop them if unintended.",
                                name, _sentence_line(examples[k]), k))
    return found


def _check_overlap(splits: dict[str, list[TokenExample]], reference: str) -> list[Diagnostic]:
    """A warning per split sharing sentences with the reference split (leaks into scores)."""
    ref_index: dict[tuple[str, ...], int] = {}
    for k, ex in enumerate(splits[reference]):
        if ex.tokens:
            ref_index.setdefault(ex.tokens, k)
    found = []
    for name, examples in splits.items():
        if name == reference:
            continue
        shared = [k for k, ex in enumerate(examples) if ex.tokens and ex.tokens in ref_index]
        if not shared:
            continue
        k = shared[0]
        ref_k = ref_index[examples[k].tokens]
        ref_place = _place(splits[reference][ref_k], ref_k)
        found.append(Diagnostic("warning", "duplicate-across-splits",
                                f"{_count(len(shared), 'sentence', 'sentences')} of {name} "
                                f"also appear in {reference} (first at {name} "
                                f"{_place(examples[k], k)}, {reference} {ref_place}); scores "
                                f"on {name} will be optimistic: remove them from {name}.",
                                name, _sentence_line(examples[k]), k))
    return found


def diagnose(splits: dict[str, list[TokenExample]], *, scheme: str | None = None,
             rare_threshold: int = 5, max_subwords: int | None = None,
             subword_counts: dict[str, list[int]] | None = None) -> list[Diagnostic]:
    """Findings about a dataset's splits, errors first.

    scheme: the intended tag scheme; None detects one per split (ties go to the reference
    split's) and warns when splits differ. The reference split is "train" when present, else
    the first split: rare and unseen labels and cross-split duplicates are judged against it.
    max_subwords / subword_counts: the model's length limit and each split's per-sentence
    subword counts (from the engine's tokenizer); long sentences are checked only with both.
    """
    if scheme is not None:
        check_scheme(scheme)
    if not splits:
        return []
    reference = _REFERENCE_SPLIT if _REFERENCE_SPLIT in splits else next(iter(splits))
    fits = {name: [_entity_fits(ex.tags) for ex in examples]
            for name, examples in splits.items()}
    # Without a given scheme each split gets its own, with ties going to the reference's.
    ref_scheme = scheme or _detect_split(splits[reference], fits[reference])
    schemes = {name: scheme or _detect_split(splits[name], fits[name], prefer=ref_scheme)
               for name in splits}
    found: list[Diagnostic] = []
    for name, examples in splits.items():
        found += _check_structure(name, examples)
        found += _check_transitions(name, examples, fits[name], schemes[name])
        found += _check_mixing(name, examples, fits[name], schemes[name])
        found += _check_lengths(name, examples, max_subwords, (subword_counts or {}).get(name))
        found += _check_duplicates_within(name, examples)
    if scheme is None:
        found += _check_split_schemes(splits, schemes, fits, reference)
    found += _check_labels(splits, reference, rare_threshold)
    found += _check_overlap(splits, reference)
    order = {name: n for n, name in enumerate(splits)}
    return sorted(found, key=lambda d: (SEVERITIES.index(d.severity), order[d.source],
                                        -1 if d.sentence is None else d.sentence,
                                        -1 if d.line is None else d.line))


def _detect_split(examples: list[TokenExample], fits: list[list[tuple[Span, frozenset[str]]]],
                  prefer: str | None = None) -> str:
    """detect_scheme of one split, reusing its entity fits."""
    profile = _Profile()
    for ex, sentence_fits in zip(examples, fits):
        _add_to_profile(profile, ex.tags, sentence_fits)
    return _choose(profile, prefer)


def summarize_diagnostics(diags: Iterable[Diagnostic]) -> dict:
    """{'error': n, 'warning': n, 'info': n, 'total': n, 'by_code': {code: n}}."""
    diags = list(diags)
    summary: dict = {s: sum(d.severity == s for d in diags) for s in SEVERITIES}
    summary["total"] = len(diags)
    summary["by_code"] = dict(Counter(d.code for d in diags))
    return summary


# ---------------------------------------------------------------- fixes


def fixes(diags: Iterable[Diagnostic], scheme: str) -> list[Fix]:
    """One-click fixes that apply to `diags` of data meant to be in `scheme`."""
    check_scheme(scheme)
    codes = Counter(d.code for d in diags)
    found = []
    tag_problems = sum(n for code, n in codes.items() if code in TAG_CODES)
    if tag_problems:
        found.append(Fix("repair-orphans", scheme,
                         f"Rewrite the tags in {scheme} from leniently read spans "
                         f"({tag_problems} tag problem(s); entity spans kept)"))
    if scheme in ("IOB1", "IOE1", "PLAIN"):
        found.append(Fix("convert", "IOB2", f"Convert {scheme} → IOB2 (spans kept)"))
    if codes["empty-sentence"]:
        found.append(Fix("drop-empty", None,
                         f"Remove {codes['empty-sentence']} empty sentence(s)"))
    if codes["duplicate-within-split"]:
        found.append(Fix("drop-duplicates", None,
                         "Remove repeated sentences within each split (keeps the first)"))
    return found


def apply_fix(examples: list[TokenExample], fix: Fix) -> list[TokenExample]:
    """`examples` (one split) with `fix` applied; call once per split."""
    if fix.code in ("repair-orphans", "convert"):
        if fix.target is None:
            raise ConfigError(f"fix {fix.code!r} needs a target scheme")
        return convert_examples(examples, fix.target)
    if fix.code == "drop-empty":
        return [ex for ex in examples if ex.tokens]
    if fix.code == "drop-duplicates":
        seen: set[tuple[str, ...]] = set()
        kept = []
        for ex in examples:
            if ex.tokens and ex.tokens in seen:
                continue
            seen.add(ex.tokens)
            kept.append(ex)
        return kept
    raise ConfigError(f"unknown fix {fix.code!r}; known: {', '.join(FIX_CODES)}")
