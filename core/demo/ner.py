"""Generates the NER demo: news-like documents tagged PER, ORG, LOC and MISC in IOB2."""
from __future__ import annotations

import random
from dataclasses import dataclass

from core.demo.common import (SPLITS, UNSEEN_RATE, Pool, capitalise, hold_out, require,
                              split_counts)
from core.demo.ner_templates import (BODY_T, FILLERS, GENRES, HEADLINE_T, LATE_FILLERS,
                                     PERSON_FORMS, PLACE_SLOT, POOL_SLOTS, SURNAME_SLOT,
                                     Template)
from core.demo.words_misc import SMALL_WORDS
from core.demo.words_orgs import COMPANIES, EVENTS, INSTITUTIONS, PRODUCTS, TEAMS
from core.demo.words_people import FIRST_NAMES, LANGUAGES, NATIONALITIES, SURNAMES
from core.demo.words_places import CITIES, COUNTRIES, REGIONS
from core.records import TokenExample


@dataclass(frozen=True)
class _NerNames:
    """The name pools of one dataset, each split into seen and held-out items."""

    first: Pool
    last: Pool
    countries: Pool
    cities: Pool
    regions: Pool
    companies: Pool
    institutions: Pool
    teams: Pool
    nationalities: Pool
    languages: Pool
    events: Pool
    products: Pool


def _draw_ner_names(rng: random.Random) -> _NerNames:
    """Split the name lists into seen and held-out parts for this seed (first names,
    teams, nationalities and languages are few and common, so all of them are seen)."""
    return _NerNames(
        first=Pool(FIRST_NAMES), last=hold_out(rng, SURNAMES),
        countries=hold_out(rng, COUNTRIES), cities=hold_out(rng, CITIES),
        regions=hold_out(rng, REGIONS), companies=hold_out(rng, COMPANIES),
        institutions=hold_out(rng, INSTITUTIONS), teams=Pool(TEAMS),
        nationalities=Pool(NATIONALITIES), languages=Pool(LANGUAGES),
        events=hold_out(rng, EVENTS), products=hold_out(rng, PRODUCTS))


class _DocWriter:
    """Writes the sentences of one document; keeps a small cast of people, firms and places.

    `late` is the rng of the LATE_FILLERS (a second stream, so that adding one left every
    draw of `rng`, and so every other sentence, as it was).
    """

    LOWER_MENTION_RATE = 0.05
    CAST_RATE = 0.55

    def __init__(self, rng: random.Random, names: _NerNames, unseen_rate: float,
                 late: random.Random):
        self.rng, self.names, self.unseen, self.late = rng, names, unseen_rate, late
        self.people = [self._new_person() for _ in range(3)]
        self.firms = [self._company() for _ in range(2)]
        self.places = [self._place() for _ in range(2)]
        self.mentioned: set[tuple[str, str]] = set()

    # -- names
    def _pick(self, pool: Pool) -> str:
        return pool.draw(self.rng, self.unseen)

    def _with_city(self, pattern: str) -> str:
        """Pattern with {C} filled by a city and {P} by a surname ('{P} & Sons')."""
        pattern = PLACE_SLOT.sub(lambda _: self._pick(self.names.cities), pattern)
        return SURNAME_SLOT.sub(lambda _: self._pick(self.names.last), pattern)

    def _new_person(self) -> tuple[str, str]:
        return self._pick(self.names.first), self._pick(self.names.last)

    def _company(self) -> str:
        return self._with_city(self._pick(self.names.companies))

    def _place(self) -> str:
        r = self.rng.random()
        pool = (self.names.cities if r < 0.5 else self.names.countries if r < 0.85
                else self.names.regions)
        return self._pick(pool)

    def _person(self, form: str) -> str:
        """A person mention: 'full', 'last', or 'any' (full on first mention, often last later)."""
        rng = self.rng
        cast = rng.random() < self.CAST_RATE
        first, last = rng.choice(self.people) if cast else self._new_person()
        seen = (first, last) in self.mentioned
        self.mentioned.add((first, last))
        # a person already introduced is usually referred to by surname, as in news text
        short = seen and rng.random() < 0.7 or rng.random() < 0.1
        if form == "last" or (form == "any" and short):
            return last
        if rng.random() < 0.05:
            return f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
        return f"{first} {last}"

    def entity(self, slot: str) -> tuple[str, str] | None:
        """(text, type) for an entity slot, None for a non-entity slot."""
        rng = self.rng
        if slot in PERSON_FORMS:
            return self._person(PERSON_FORMS[slot]), "PER"
        if slot == "CO":
            cast = rng.random() < self.CAST_RATE
            return (rng.choice(self.firms) if cast else self._company()), "ORG"
        if slot == "ORG":
            return (self._company() if rng.random() < 0.4
                    else self._with_city(self._pick(self.names.institutions))), "ORG"
        if slot == "LOC":
            return (rng.choice(self.places) if rng.random() < 0.4 else self._place()), "LOC"
        if slot in POOL_SLOTS:
            pool, type_ = POOL_SLOTS[slot]
            return self._with_city(self._pick(getattr(self.names, pool))), type_
        return None

    def sentence(self, template: Template, casing: str) -> tuple[list[str], list[str]]:
        """Tokens and IOB2 tags of one filled template, cased as `casing`."""
        tokens: list[str] = []
        tags: list[str] = []
        for kind, value, modifier in template:
            if kind == "lit":
                tokens.append(value)
                tags.append("O")
                continue
            found = self.entity(value)
            filler_rng = self.late if value in LATE_FILLERS else self.rng
            words = (found[0] if found else FILLERS[value](filler_rng)).split()
            if modifier == "upper":
                words = [w.upper() for w in words]
            if found and casing == "normal" and self.rng.random() < self.LOWER_MENTION_RATE:
                words = [w.lower() for w in words]
            tokens.extend(words)
            tags.extend(["O"] * len(words) if not found
                        else [f"B-{found[1]}"] + [f"I-{found[1]}"] * (len(words) - 1))
        return _apply_casing(tokens, casing), tags


def _apply_casing(tokens: list[str], casing: str) -> list[str]:
    """Tokens as a lower/upper/title-case headline, or with the first word capitalised."""
    if casing == "lower":
        return [t.lower() for t in tokens]
    if casing == "upper":
        return [t.upper() for t in tokens]
    out = list(tokens)
    if casing == "title":
        out = [t if i and t.lower() in SMALL_WORDS else capitalise(t)
               for i, t in enumerate(out)]
    for i, t in enumerate(out):  # sentence case: first word with a letter starts upper-case
        if t[0].isalpha():
            out[i] = capitalise(t)
            break
    return out


def _write_document(rng: random.Random, names: _NerNames, size: int, unseen_rate: float,
                    late: random.Random) -> list[tuple[list[str], list[str]]]:
    """`size` sentences of one document of a random genre, often opening with a headline."""
    writer = _DocWriter(rng, names, unseen_rate, late)
    genre = rng.choice(GENRES)
    sentences = []
    if rng.random() < 0.7:
        casing = rng.choices(("title", "lower", "normal", "upper"), (0.4, 0.3, 0.2, 0.1))[0]
        sentences.append(writer.sentence(rng.choice(HEADLINE_T[genre]), casing))
    while len(sentences) < size:
        pool = BODY_T[genre] if rng.random() < 0.8 else BODY_T[rng.choice(GENRES)]
        sentences.append(writer.sentence(rng.choice(pool), "normal"))
    return sentences[:size]


def _doc_sizes(rng: random.Random, n_sentences: int) -> list[int]:
    """Document lengths of 5-15 sentences (fewer for tiny sets) summing to n_sentences."""
    cap = max(1, n_sentences // 10)  # at least ~10 documents so every split gets some
    sizes: list[int] = []
    left = n_sentences
    while left > 0:
        size = min(rng.randint(5, 15), cap, left)
        sizes.append(size)
        left -= size
    return sizes


def _assign_splits(rng: random.Random, n_docs: int) -> list[str]:
    """A split name per document, 80/10/10 by document, in random order."""
    n_train, n_dev, n_test = split_counts(n_docs)
    labels = ["train"] * n_train + ["dev"] * n_dev + ["test"] * n_test
    rng.shuffle(labels)
    return labels


def make_ner_demo(*, seed: int = 0, n_sentences: int = 3000) -> dict[str, list[TokenExample]]:
    """English news-like NER data (PER, ORG, LOC, MISC; IOB2) split 80/10/10 by document.

    About a fifth of surnames, places, organisations, events and products never occur in
    train; dev/test draw them 25% of the time, so test scores measure generalisation.
    """
    require("n_sentences", n_sentences, 10, "so that every split gets a document")
    rng = random.Random(seed)
    late = random.Random(f"demo-ner:{seed}:late-fillers")  # str seeds are stable (sha512)
    names = _draw_ner_names(rng)
    sizes = _doc_sizes(rng, n_sentences)
    out: dict[str, list[TokenExample]] = {s: [] for s in SPLITS}
    next_doc = dict.fromkeys(SPLITS, 0)
    for size, split in zip(sizes, _assign_splits(rng, len(sizes))):
        unseen = 0.0 if split == "train" else UNSEEN_RATE
        doc = next_doc[split]
        next_doc[split] += 1
        for tokens, tags in _write_document(rng, names, size, unseen, late):
            out[split].append(TokenExample(tuple(tokens), tuple(tags), doc=doc))
    return out
