"""Sentence and headline templates of the NER demo, and the slot tables that fill them."""
from __future__ import annotations

import random
import re
from typing import Callable

from core.demo.common import lines
from core.demo.words_misc import MONTHS, NUMBER_WORDS, SPORTS, WEEKDAYS
from core.demo.words_people import TITLES

# One sentence per line; tokens separated by spaces (punctuation already split, CoNLL-like).
# {SLOT} is filled by ner._DocWriter; entity slots: PER PERF PERL ORG CO TEAM CLUB (a city as a
# sports club: ORG) LOC CITY COUNTRY NAT LANG EVENT PRODUCT; the rest are non-entity fillers.
# A slot is a whole token ({SLOT} or {SLOT:upper}): text glued to it ("{NUM}th") would be
# a literal that keeps its braces, so _parse_template refuses it; write a filler instead
# ({MINUTE} gives "42nd").
_BODY = {
    "business": lines("""
{CO} said on {DAY} it would cut {NUM} jobs at its plant in {LOC} .
Shares in {CO} rose {PCT} percent after the company reported higher sales in {COUNTRY} .
" We expect a difficult year , " {PER} , chief executive of {CO} , told reporters .
{CO} agreed to buy {CO} for {MONEY} , the two companies said .
Analysts at {CO} expect {CO} to report a profit of {MONEY} for {YEAR} .
The {NAT} group {CO} plans to open {NUM} stores in {COUNTRY} by {YEAR} .
{PER} , who joined {CO} in {YEAR} , will become finance director in {MONTH} .
{CO} launched the {PRODUCT} in {LOC} on {DAY} .
Sales of the {PRODUCT} fell {PCT} percent in the third quarter , {CO} said .
Did {CO} pay too much for {CO} ?
The deal values {CO} at about {MONEY} .
{ORG} kept interest rates unchanged at {PCT} percent on {DAY} .
Traders in {CITY} said the market was quiet ahead of the {MONTH} holiday .
{CO} , based in {CITY} , employs about {BIGNUM} people .
A spokeswoman for {CO} declined to comment on the report .
Profits at {CO} fell to {MONEY} from {MONEY} a year earlier .
{PER} said {CO} had no plans to leave {CITY} .
Bond yields in {COUNTRY} rose for a third day on {DAY} .
The bank said its new branch in {CITY} would open on {MONTH} {DAYNUM} .
Investors sold {CO} shares after {PER} resigned as chairman .
Exports from {COUNTRY} to {COUNTRY} rose {PCT} percent in {MONTH} .
New orders at {CO} rose for the first time since {YEAR} .
Profit warnings from {CO} and {CO} weighed on the market .
{TITLE} {PERL} said the merger would be reviewed by {ORG} .
The company , which makes the {PRODUCT} , said demand was strong .
The new {CO} {PRODUCT} will cost {MONEY} in {COUNTRY} .
{NAT} carmaker {CO} said {NAT} demand was weak .
"""),
    "politics": lines("""
{TITLE} {PERL} arrived in {LOC} on {DAY} for talks with {NAT} officials .
{PER} , the foreign minister of {COUNTRY} , met {PER} in {CITY} .
The {NAT} government said it would send {NUM} observers to {COUNTRY} .
" There is no deal yet , " {PER} told {ORG} .
Police in {CITY} arrested {NUM} people after protests on {DAY} , a spokesman said .
{ORG} called on both sides to return to talks in {CITY} .
Voters in {LOC} go to the polls on {MONTH} {DAYNUM} .
{PER} won {PCT} percent of the vote , according to official results .
Who will lead the {NAT} delegation at the talks in {CITY} ?
Opposition leader {PER} accused the government of ignoring {LOC} .
The talks , hosted by {ORG} , ended without agreement late on {DAY} .
{COUNTRY} and {COUNTRY} signed a trade agreement in {YEAR} .
Officials said the {NAT} embassy in {CITY} would reopen next week .
New elections are expected in {MONTH} , {PER} said .
{PER} , {AGE} , was elected mayor of {CITY} in {YEAR} .
Members of {ORG} voted {NUM} to {NUM} in favour of the plan .
The minister told parliament that {ORG} had been informed .
Talks between {PERL} and {PERL} will resume on {DAY} .
{NAT} President {PERF} said {COUNTRY} would not sign the treaty .
{COUNTRY} has rejected the proposal , officials in {CITY} said .
"""),
    "sports": lines("""
{TEAM} beat {TEAM} {SCORE} on {DAY} .
{PER} scored twice as {TEAM} beat {TEAM} {SCORE} .
{TEAM} {GOALS} {TEAM} {GOALS}
Results : {TEAM} {GOALS} {TEAM} {GOALS} , {TEAM} {GOALS} {TEAM} {GOALS} .
{RANK} {PER} ( {COUNTRY} ) {TIME}
{PER} of {COUNTRY} won the {EVENT} on {DAY} .
{TEAM} coach {PER} said his side deserved the win .
{TEAM} drew {DRAW} with {TEAM} in {CITY} .
{PER} will miss the {EVENT} with a knee injury .
The {NAT} striker joined {TEAM} from {TEAM} in {MONTH} .
{TEAM} lead the table with {NUM} points after {NUM} games .
Can {TEAM} stop {PER} on {DAY} ?
{PER} beat {PER} {SET} to reach the final of the {EVENT} .
Standings : {TEAM} {NUM} , {TEAM} {NUM} , {TEAM} {NUM} .
{CITY} will host the {EVENT} in {YEAR} .
Attendance : {BIGNUM}
{PERL} , who scored in the {MINUTE} minute , was later sent off .
Final score : {TEAM} {SCORE} .
{COUNTRY} beat {COUNTRY} {SCORE} in a friendly in {CITY} .
{CLUB} , who lost {SCORE} last week , host {TEAM} on {DAY} .
"""),
    "culture": lines("""
{CO} unveiled the {PRODUCT} at a launch event in {CITY} .
The {PRODUCT} goes on sale in {COUNTRY} in {MONTH} , priced at {MONEY} .
{PER} , a {NAT} writer , will speak at the {EVENT} .
The film , shot in {LOC} , is in {LANG} with {LANG} subtitles .
Researchers at {ORG} have built a tool that translates {LANG} into {LANG} .
More than {BIGNUM} people visited the {EVENT} in {CITY} last year .
Reviews of the {PRODUCT} have been mixed , {PER} wrote .
Tickets for the {EVENT} sold out in {NUM} minutes .
{ORG} will offer free {LANG} classes from {MONTH} .
Speakers include {PER} , {PER} and {PER} .
The {NAT} band played to a crowd of {BIGNUM} in {CITY} .
Is the {PRODUCT} worth {MONEY} ?
{PER} won the {EVENT} for a novel set in {LOC} .
Her new album , recorded in {CITY} , mixes {LANG} and {NAT} folk songs .
"""),
    "general": lines("""
{PER} was born in {LOC} in {YEAR} .
{PER} studied at {ORG} before moving to {CITY} .
Heavy rain hit {LOC} on {DAY} , forcing officials to close roads .
The university said it would open a campus in {CITY} .
A new bridge linking {CITY} and {CITY} opened in {MONTH} .
{NUM} people were hurt when a bus crashed near {CITY} , police said .
Temperatures in {LOC} reached {NUM} degrees on {DAY} .
{PER} , a spokesman for {ORG} , said the figures were wrong .
Flights between {CITY} and {CITY} were cancelled on {DAY} .
The city council will meet on {MONTH} {DAYNUM} to discuss the budget .
In {YEAR} , {PER} moved to {CITY} to work for {ORG} .
{MONTH} {DAYNUM} , {YEAR}
{CITY:upper} {ISODATE}
Thousands of {NAT} fans travelled to {CITY} for the {EVENT} .
{PER} 's family moved from {LOC} to {LOC} in {YEAR} .
The report , published by {ORG} on {DAY} , found that prices rose {PCT} percent .
North of {CITY} , roads were closed by snow .
United in grief , residents of {CITY} gathered on {DAY} .
Sunday 's storm left {BIGNUM} homes without power in {LOC} .
What happened in {CITY} on {DAY} ?
"""),
}

_HEADLINES = {
    "business": lines("""
{CO} shares rise on {COUNTRY} deal
{CO} to cut {NUM} jobs
{CO} profit falls {PCT} pct
{NAT} stocks end higher
{CO} buys {CO} for {MONEY}
{PERF} quits as {CO} chairman
"""),
    "politics": lines("""
{PERF} wins election in {COUNTRY}
{NAT} troops leave {LOC}
{COUNTRY} and {COUNTRY} agree ceasefire
{PERF} to visit {CITY} next week
"""),
    "sports": lines("""
{TEAM} beat {TEAM} {SCORE}
{PERF} wins {EVENT}
{TEAM} sack coach {PERF}
{SPORT} - {PERF} out of {EVENT}
{SPORT} - {NAT} league results
"""),
    "culture": lines("""
{CO} unveils {PRODUCT}
{EVENT} opens in {CITY}
{PERF} to headline {EVENT}
"""),
    "general": lines("""
Storm hits {LOC}
{PERF} dies aged {AGE}
{CITY} bans cars from city centre
"""),
}

GENRES = tuple(_BODY)
_SLOT = re.compile(r"^\{([A-Z]+)(?::(\w+))?\}$")
PLACE_SLOT = re.compile(r"\{C\}")
SURNAME_SLOT = re.compile(r"\{P\}")

Template = tuple[tuple[str, str, str], ...]  # (kind 'lit'|'slot', text or slot name, modifier)


def _parse_template(line: str) -> Template:
    """Tokens of one template line, each a literal or a slot with an optional modifier.

    ValueError for a literal holding a brace ("{NUM}th", "{Num}"): it would reach the data
    as written, placeholder and all.
    """
    parts = []
    for token in line.split():
        m = _SLOT.match(token)
        if m is None and ("{" in token or "}" in token):
            raise ValueError(f"NER demo template {line!r}: {token!r} is not a slot; a slot "
                             "is a whole token, {NAME} or {NAME:upper}")
        parts.append(("slot", m.group(1), m.group(2) or "") if m else ("lit", token, ""))
    return tuple(parts)


BODY_T = {g: tuple(_parse_template(t) for t in ts) for g, ts in _BODY.items()}
HEADLINE_T = {g: tuple(_parse_template(t) for t in ts) for g, ts in _HEADLINES.items()}

PERSON_FORMS = {"PER": "any", "PERF": "full", "PERL": "last"}
# Slots filled straight from one pool: (_NerNames field, entity type).
POOL_SLOTS = {"CITY": ("cities", "LOC"), "COUNTRY": ("countries", "LOC"),
              "TEAM": ("teams", "ORG"), "CLUB": ("cities", "ORG"),
              "NAT": ("nationalities", "MISC"), "LANG": ("languages", "MISC"),
              "EVENT": ("events", "MISC"), "PRODUCT": ("products", "MISC")}


def _win_score(rng: random.Random) -> str:
    """A result such as '3-1', winner first."""
    loser = rng.randint(0, 4)
    return f"{loser + rng.randint(1, 3)}-{loser}"


def _draw_score(rng: random.Random) -> str:
    """A drawn result such as '2-2'."""
    goals = rng.randint(0, 4)
    return f"{goals}-{goals}"


def ordinal(n: int) -> str:
    """'1st', '2nd', '3rd', '4th', ..., '11th', '12th', '13th', ..., '21st', ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# Non-entity slots: numbers, dates, scores, titles; each draws its text from the rng.
FILLERS: dict[str, Callable[[random.Random], str]] = {
    "NUM": lambda r: str(r.randint(2, 99)) if r.random() < 0.7 else r.choice(NUMBER_WORDS),
    "BIGNUM": lambda r: f"{r.randint(1, 99)},{r.randint(0, 999):03d}",
    "PCT": lambda r: f"{r.randint(0, 14)}.{r.randint(1, 9)}",
    "MONEY": lambda r: r.choice((f"$ {r.randint(2, 900)} million",
                                 f"{r.randint(1, 40)}.{r.randint(1, 9)} billion euros",
                                 f"{r.randint(10, 500)} million pounds")),
    "SCORE": _win_score,
    "DRAW": _draw_score,
    "SET": lambda r: f"6-{r.randint(0, 4)} {r.choice(('6-3', '7-5', '6-4', '7-6'))}",
    "GOALS": lambda r: str(r.randint(0, 4)),
    "MONTH": lambda r: r.choice(MONTHS),
    "DAY": lambda r: r.choice(WEEKDAYS),
    "DAYNUM": lambda r: str(r.randint(1, 28)),
    "YEAR": lambda r: str(r.randint(1988, 2025)),
    "AGE": lambda r: str(r.randint(21, 91)),
    "RANK": lambda r: f"{r.randint(1, 9)}.",
    "TIME": lambda r: (f"{r.randint(9, 11)}.{r.randint(10, 99)}" if r.random() < 0.5
                       else f"2:0{r.randint(3, 9)}:{r.randint(10, 59)}"),
    "ISODATE": lambda r: f"{r.randint(1990, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "TITLE": lambda r: r.choice(TITLES),
    "SPORT": lambda r: r.choice(SPORTS),
    "MINUTE": lambda r: ordinal(r.randint(1, 90)),
}
# Fillers added after the demo data was first published: they draw from the generator's
# second rng (ner._DocWriter.late), so adding one changed no other sentence of any seed.
LATE_FILLERS = frozenset({"MINUTE"})
