"""Seeded demo datasets built from templates: NER, intents, financial sentiment, ticket topics.

Every sentence, template and name list here is written for this project. Each generator is
deterministic given its seed (a private `random.Random`, never the global state) and holds
out part of its names and templates from the training split, so dev/test scores measure
generalisation rather than memorisation.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from core.errors import ConfigError
from core.records import TextExample, TokenExample

SPLITS = ("train", "dev", "test")
HELD_OUT_FRACTION = 0.2  # share of each name list / template list kept out of train
UNSEEN_RATE = 0.25  # chance that a dev/test draw picks a held-out item


# --------------------------------------------------------------------------- pools

@dataclass(frozen=True)
class _Pool:
    """Items one generator draws from: `seen` ones everywhere, `held` ones only in dev/test."""

    seen: tuple
    held: tuple = ()

    def draw(self, rng: random.Random, unseen_rate: float):
        """One item; a held-out one with probability `unseen_rate` (0 for train)."""
        if self.held and unseen_rate and rng.random() < unseen_rate:
            return rng.choice(self.held)
        return rng.choice(self.seen)


def _hold_out(rng: random.Random, items: Sequence, fraction: float = HELD_OUT_FRACTION) -> _Pool:
    """A pool with a random `fraction` of `items` held out of train (none from tiny lists)."""
    shuffled = list(items)
    rng.shuffle(shuffled)
    k = round(len(shuffled) * fraction) if len(shuffled) >= 4 else 0
    return _Pool(tuple(shuffled[k:]), tuple(shuffled[:k]))


def _lines(text: str) -> tuple[str, ...]:
    """Non-empty stripped lines of a block (for lists whose items contain spaces)."""
    return tuple(s.strip() for s in text.strip().splitlines() if s.strip())


def _split_counts(n: int) -> tuple[int, int, int]:
    """(train, dev, test) sizes for n items, 80/10/10, dev and test non-empty when n >= 3."""
    dev = max(1, round(n * 0.1)) if n >= 3 else 0
    test = max(1, round(n * 0.1)) if n >= 3 else 0
    return n - dev - test, dev, test


def _require(name: str, value: int, minimum: int, why: str) -> None:
    """ConfigError unless value is an int >= minimum."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer of at least {minimum} {why}; got {value!r}")


# --------------------------------------------------------------------------- NER names

# Common first names are fine as words; several double as place names on purpose.
_FIRST_NAMES = tuple("""
James Mary John Anna Robert Linda Michael Sarah David Karen William Nancy Richard Lisa Thomas
Emma Daniel Laura Mark Julia Paul Helen Steven Rachel Andrew Claire Peter Grace Kevin Alice
Brian Ruth George Irene Edward Nora Frank Olga Henry Clara Oliver Hannah Samuel Leah Adam Vera
Lucas Mia Omar Amira Ahmed Fatima Yusuf Layla Kofi Ama Chidi Ngozi Tunde Zainab Ravi Priya
Arjun Divya Sanjay Meera Hiroshi Yuki Kenji Aiko Wei Mei Jun Lin Minho Jiwoo Tuan Linh Carlos
Lucia Mateo Sofia Diego Elena Pablo Ines Marco Giulia Luca Chiara Pierre Camille Louis Amelie
Hans Greta Felix Lena Jan Ewa Piotr Marta Lars Ingrid Sven Astrid Mikko Aino Sean Niamh Ivan
Tatiana Dmitri Katya Stefan Nadia Tomas Hana Florence Sydney Austin Georgia Victoria Jordan
Chelsea Madison Dallas Savannah Regina Adelaide Denver Carolina Lorraine Troy Chester Brooklyn
""".split())

# Surnames: generic and invented; some are also place names or ordinary English words.
_SURNAMES = _lines("""
Smith
Baker
Hill
Rose
Young
Price
Walker
Hughes
Fletcher
Barnes
Carter
Hale
Marsh
Bishop
Ward
Fox
Grant
Moss
Lincoln
Preston
Denver
Houston
Chester
Kent
Warwick
Kingston
Sheffield
Wellington
Durham
Ashdown
Quenby
Thorne
Merrick
Holloway
Pemberton
Ravensworth
Blakemore
Calloway
Dunmore
Everley
Fairbrother
Gladwell
Harcourt
Ingleby
Jessop
Kettering
Lockridge
Mallory
Netherton
Oakes
Pendry
Quill
Radley
Stroud
Tindall
Upton
Vance
Winslow
Yardley
Zeller
Brandt
Keller
Vogel
Hartmann
Richter
Lindqvist
Berglund
Nyberg
Halvorsen
Solberg
Virtanen
Korhonen
Kowalski
Nowak
Wozniak
Horvath
Novak
Dvorak
Popescu
Ionescu
Petrov
Volkov
Sokolova
Morozov
Fernandez
Navarro
Delgado
Herrera
Castillo
Romero
Ortega
Moreno
Ferreira
Almeida
Carvalho
Rossi
Bianchi
Ricci
Marino
Conti
Moretti
Dubois
Lefevre
Moreau
Girard
Bonnet
Mercier
Okafor
Adeyemi
Mensah
Owusu
Kamau
Otieno
Mwangi
Haddad
Nasser
Khalil
Aziz
Farouk
Demir
Yilmaz
Kaya
Sharma
Iyer
Reddy
Kapoor
Menon
Nair
Tanaka
Nakamura
Watanabe
Kobayashi
Fujita
Chen
Zhao
Liu
Huang
Park
Choi
Kang
Nguyen
Tran
Pham
Santos
Reyes
Cruz
Molina
O'Brien
O'Neill
McAllister
McKenna
Doyle
Byrne
Gallagher
Brennan
Sullivan
Morgan
Rhys
Price-Evans
Lloyd
Harrington
Whitlock
Sterling
Ashworth
Beckford
Cartwright
Drummond
Elsworth
Farleigh
Greaves
Hollingsworth
Jarrow
Kimble
Langford
Mortimer
Northcott
Orwell
Pickering
Rowntree
Stanhope
Tremaine
Underwood
Vickers
Westgate
Wexley
Yates
Ambrose
Brightman
Coldwell
Devereux
Eastwood
Finchley
Goodhew
Hawksworth
van der Holt
van Rijswick
de la Cruz
de Souza
Al Rashid
""")

_COUNTRIES = _lines("""
France
Germany
Spain
Italy
Portugal
Brazil
Argentina
Chile
Peru
Mexico
Canada
Japan
China
India
Kenya
Nigeria
Ghana
Egypt
Morocco
Turkey
Greece
Poland
Sweden
Norway
Finland
Denmark
Ireland
Scotland
Wales
Belgium
Austria
Hungary
Romania
Ukraine
Vietnam
Thailand
Indonesia
Australia
New Zealand
South Africa
South Korea
United States
Saudi Arabia
Sri Lanka
Costa Rica
Jordan
Georgia
Iceland
Colombia
Malaysia
""")

_CITIES = _lines("""
London
Madrid
Lyon
Milan
Porto
Leeds
Manchester
Glasgow
Dublin
Oslo
Bergen
Hamburg
Munich
Vienna
Prague
Warsaw
Krakow
Budapest
Athens
Istanbul
Cairo
Nairobi
Lagos
Accra
Mumbai
Delhi
Tokyo
Osaka
Seoul
Beijing
Shanghai
Hanoi
Bangkok
Jakarta
Sydney
Melbourne
Perth
Toronto
Vancouver
Chicago
Boston
Denver
Houston
Austin
Seattle
Lima
Bogota
Santiago
Florence
Naples
Seville
Valencia
Lisbon
Geneva
Zurich
Lincoln
Preston
Chester
Victoria
Adelaide
Regina
Buenos Aires
Cape Town
Hong Kong
Los Angeles
New York
San Diego
Rio de Janeiro
Tel Aviv
Kuala Lumpur
New Harlow
New Brenton
New Calder
Port Ellory
Fairhaven
Ashbridge
Kelmarsh
Dunmore Bay
Saint Corvin
Westbrook
Marrow Falls
Oakley Springs
Stonemere
Brackwater
""")

_REGIONS = _lines("""
Bavaria
Tuscany
Patagonia
Siberia
Yorkshire
Cornwall
Catalonia
Andalusia
Alps
Andes
Sahara
Balkans
Lake Morrow
Mount Keller
Harlow Valley
Cape Ardent
Greywater Coast
Eastern Province
Silver River
Northmoor
""")

# Organisations. "{C}" is filled with a city, "{P}" with a surname when the name is used.
_COMPANIES = _lines("""
Veltrax
Norvik Energy
Quorra Systems
Brightwell Foods
Halden Motors
Corvane Pharma
Maplestone Group
Tervia Telecom
Aldera Capital
Brunvik Shipping
Castellan Insurance
Delmora Airlines
Elvano Media
Fenwick & Rowe
Granger Steel
Harlow Logistics
Istra Mining
Jovian Labs
Kestrel Aerospace
Lumora
Marlowe Retail
Nexaro
Orvella Cosmetics
Pellion Chemicals
Quantis Software
Rosland Breweries
Solvane Solar
Tarragon Foods
Ulvik Paper
Varden Bank
Westmere Holdings
Yarrow Textiles
Zelkova Robotics
Ambry Networks
Bexley & Hart
Cindral
Dovetail Games
Emberline Rail
Foxmoor Hotels
Glenrock Cement
Hollis Pharma
Ironvale Mining
Juniper Grid
Kaveri Motors
Larkspur Health
Mirafield Dairy
Northgate Securities
Oakhurst Bank
Pinecrest Insurance
Redwater Oil
Silverbirch Partners
Thornbury Construction
Umbra Semiconductors
Valecrest Water
Wrenfield Press
Lincoln Freight
Preston & Vale
Florence Capital
{P} & Sons
{P} Brothers
{C} Utilities
{C} Bank
Bank of {C}
{C} Stock Exchange
{C} Power
{C} Airways
""")

_INSTITUTIONS = _lines("""
Ministry of Finance
Ministry of Health
Ministry of Transport
National Statistics Office
Central Bank
Supreme Court
United Nations
European Union
World Health Organization
Red Cross
Green Party
Progressive Alliance
Farmers Union
Northern Transport Authority
Institute for Coastal Research
Harbour Workers Union
National Theatre Company
Open Data Foundation
Federal Aviation Board
Consumer Rights Council
Maritime Safety Agency
Royal Academy of Sciences
{P} Foundation
{P} Institute
University of {C}
{C} University
{C} City Council
{C} Chamber of Commerce
{C} Police
{C} Times
{C} Herald
{C} Port Authority
{C} Symphony Orchestra
{C} Institute of Technology
""")

_TEAMS = _lines("""
{C} United
{C} Rovers
{C} City
{C} Athletic
Real {C}
FC {C}
{C} Wanderers
Sporting {C}
{C}
{C}
""")

_NATIONALITIES = tuple("""
French German Spanish Italian Brazilian Japanese Chinese Indian Kenyan Nigerian Egyptian
Turkish Greek Polish Swedish Norwegian Irish Scottish Dutch Mexican Canadian Australian
Korean Vietnamese Argentine American British Portuguese Chilean Ghanaian
""".split())

_LANGUAGES = tuple("English Mandarin Swahili Arabic Hindi Welsh Basque Esperanto Tagalog".split())

_EVENTS = _lines("""
World Cup
Olympic Games
Winter Games
{C} Marathon
{C} Open
{C} Grand Prix
{C} Film Festival
Harvest Festival
Northern Cup
Continental Championship
Golden Quill Award
Silver Lantern Prize
Tech Futures Expo
Coastal Cup
Spring Classic
""")

_PRODUCTS = _lines("""
Zephyr X2
Aurora Pro
Nimbus 7
Lumo Phone
Orbit Watch
Quill Reader
Strata 5
Pico Drive
Kite Mini
Vega Sport
Tundra GT
Helix Air
Sparrow One
Mosaic OS
Cobalt 9
""")

_MONTHS = tuple("""January February March April May June July August September October
November December""".split())
_WEEKDAYS = tuple("Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
_NUMBER_WORDS = tuple("two three four five six seven eight nine ten twelve twenty".split())
_TITLES = tuple("Mr. Ms. Dr. President Minister Senator Judge Professor coach".split())
_SPORTS = tuple("Soccer Tennis Cycling Athletics Rugby Golf Cricket Basketball".split())
_SMALL_WORDS = frozenset("a an and at by for in of on or the to vs de van der la al".split())


# --------------------------------------------------------------------------- NER templates

# One sentence per line; tokens separated by spaces (punctuation already split, CoNLL-like).
# {SLOT} is filled by _DocWriter; entity slots: PER PERF PERL ORG CO TEAM CLUB (a city as a
# sports club: ORG) LOC CITY COUNTRY NAT LANG EVENT PRODUCT; the rest are non-entity fillers.
_BODY = {
    "business": _lines("""
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
    "politics": _lines("""
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
    "sports": _lines("""
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
{PERL} , who scored in the {NUM}th minute , was later sent off .
Final score : {TEAM} {SCORE} .
{COUNTRY} beat {COUNTRY} {SCORE} in a friendly in {CITY} .
{CLUB} , who lost {SCORE} last week , host {TEAM} on {DAY} .
"""),
    "culture": _lines("""
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
    "general": _lines("""
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
    "business": _lines("""
{CO} shares rise on {COUNTRY} deal
{CO} to cut {NUM} jobs
{CO} profit falls {PCT} pct
{NAT} stocks end higher
{CO} buys {CO} for {MONEY}
{PERF} quits as {CO} chairman
"""),
    "politics": _lines("""
{PERF} wins election in {COUNTRY}
{NAT} troops leave {LOC}
{COUNTRY} and {COUNTRY} agree ceasefire
{PERF} to visit {CITY} next week
"""),
    "sports": _lines("""
{TEAM} beat {TEAM} {SCORE}
{PERF} wins {EVENT}
{TEAM} sack coach {PERF}
{SPORT} - {PERF} out of {EVENT}
{SPORT} - {NAT} league results
"""),
    "culture": _lines("""
{CO} unveils {PRODUCT}
{EVENT} opens in {CITY}
{PERF} to headline {EVENT}
"""),
    "general": _lines("""
Storm hits {LOC}
{PERF} dies aged {AGE}
{CITY} bans cars from city centre
"""),
}

_GENRES = tuple(_BODY)
_SLOT = re.compile(r"^\{([A-Z]+)(?::(\w+))?\}$")
_PLACE_SLOT = re.compile(r"\{C\}")
_SURNAME_SLOT = re.compile(r"\{P\}")

Template = tuple[tuple[str, str, str], ...]  # (kind 'lit'|'slot', text or slot name, modifier)


def _parse_template(line: str) -> Template:
    """Tokens of one template line, each a literal or a slot with an optional modifier."""
    parts = []
    for token in line.split():
        m = _SLOT.match(token)
        parts.append(("slot", m.group(1), m.group(2) or "") if m else ("lit", token, ""))
    return tuple(parts)


_BODY_T = {g: tuple(_parse_template(t) for t in ts) for g, ts in _BODY.items()}
_HEADLINE_T = {g: tuple(_parse_template(t) for t in ts) for g, ts in _HEADLINES.items()}


@dataclass(frozen=True)
class _NerNames:
    """The name pools of one dataset, each split into seen and held-out items."""

    first: _Pool
    last: _Pool
    countries: _Pool
    cities: _Pool
    regions: _Pool
    companies: _Pool
    institutions: _Pool
    teams: _Pool
    nationalities: _Pool
    languages: _Pool
    events: _Pool
    products: _Pool


def _draw_ner_names(rng: random.Random) -> _NerNames:
    """Split the name lists into seen and held-out parts for this seed (first names,
    teams, nationalities and languages are few and common, so all of them are seen)."""
    return _NerNames(
        first=_Pool(_FIRST_NAMES), last=_hold_out(rng, _SURNAMES),
        countries=_hold_out(rng, _COUNTRIES), cities=_hold_out(rng, _CITIES),
        regions=_hold_out(rng, _REGIONS), companies=_hold_out(rng, _COMPANIES),
        institutions=_hold_out(rng, _INSTITUTIONS), teams=_Pool(_TEAMS),
        nationalities=_Pool(_NATIONALITIES), languages=_Pool(_LANGUAGES),
        events=_hold_out(rng, _EVENTS), products=_hold_out(rng, _PRODUCTS))


_PERSON_FORMS = {"PER": "any", "PERF": "full", "PERL": "last"}
# Slots filled straight from one pool: (_NerNames field, entity type).
_POOL_SLOTS = {"CITY": ("cities", "LOC"), "COUNTRY": ("countries", "LOC"),
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


# Non-entity slots: numbers, dates, scores, titles; each draws its text from the rng.
_FILLERS: dict[str, Callable[[random.Random], str]] = {
    "NUM": lambda r: str(r.randint(2, 99)) if r.random() < 0.7 else r.choice(_NUMBER_WORDS),
    "BIGNUM": lambda r: f"{r.randint(1, 99)},{r.randint(0, 999):03d}",
    "PCT": lambda r: f"{r.randint(0, 14)}.{r.randint(1, 9)}",
    "MONEY": lambda r: r.choice((f"$ {r.randint(2, 900)} million",
                                 f"{r.randint(1, 40)}.{r.randint(1, 9)} billion euros",
                                 f"{r.randint(10, 500)} million pounds")),
    "SCORE": _win_score,
    "DRAW": _draw_score,
    "SET": lambda r: f"6-{r.randint(0, 4)} {r.choice(('6-3', '7-5', '6-4', '7-6'))}",
    "GOALS": lambda r: str(r.randint(0, 4)),
    "MONTH": lambda r: r.choice(_MONTHS),
    "DAY": lambda r: r.choice(_WEEKDAYS),
    "DAYNUM": lambda r: str(r.randint(1, 28)),
    "YEAR": lambda r: str(r.randint(1988, 2025)),
    "AGE": lambda r: str(r.randint(21, 91)),
    "RANK": lambda r: f"{r.randint(1, 9)}.",
    "TIME": lambda r: (f"{r.randint(9, 11)}.{r.randint(10, 99)}" if r.random() < 0.5
                       else f"2:0{r.randint(3, 9)}:{r.randint(10, 59)}"),
    "ISODATE": lambda r: f"{r.randint(1990, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "TITLE": lambda r: r.choice(_TITLES),
    "SPORT": lambda r: r.choice(_SPORTS),
}


class _DocWriter:
    """Writes the sentences of one document; keeps a small cast of people, firms and places."""

    LOWER_MENTION_RATE = 0.05
    CAST_RATE = 0.55

    def __init__(self, rng: random.Random, names: _NerNames, unseen_rate: float):
        self.rng, self.names, self.unseen = rng, names, unseen_rate
        self.people = [self._new_person() for _ in range(3)]
        self.firms = [self._company() for _ in range(2)]
        self.places = [self._place() for _ in range(2)]
        self.mentioned: set[tuple[str, str]] = set()

    # -- names
    def _pick(self, pool: _Pool) -> str:
        return pool.draw(self.rng, self.unseen)

    def _with_city(self, pattern: str) -> str:
        """Pattern with {C} filled by a city and {P} by a surname ('{P} & Sons')."""
        pattern = _PLACE_SLOT.sub(lambda _: self._pick(self.names.cities), pattern)
        return _SURNAME_SLOT.sub(lambda _: self._pick(self.names.last), pattern)

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
        if slot in _PERSON_FORMS:
            return self._person(_PERSON_FORMS[slot]), "PER"
        if slot == "CO":
            cast = rng.random() < self.CAST_RATE
            return (rng.choice(self.firms) if cast else self._company()), "ORG"
        if slot == "ORG":
            return (self._company() if rng.random() < 0.4
                    else self._with_city(self._pick(self.names.institutions))), "ORG"
        if slot == "LOC":
            return (rng.choice(self.places) if rng.random() < 0.4 else self._place()), "LOC"
        if slot in _POOL_SLOTS:
            pool, type_ = _POOL_SLOTS[slot]
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
            words = (found[0] if found else _FILLERS[value](self.rng)).split()
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
        out = [t if i and t.lower() in _SMALL_WORDS else _capitalise(t)
               for i, t in enumerate(out)]
    for i, t in enumerate(out):  # sentence case: first word with a letter starts upper-case
        if t[0].isalpha():
            out[i] = _capitalise(t)
            break
    return out


def _capitalise(token: str) -> str:
    return token[0].upper() + token[1:]


def _write_document(rng: random.Random, names: _NerNames, size: int,
                    unseen_rate: float) -> list[tuple[list[str], list[str]]]:
    """`size` sentences of one document of a random genre, often opening with a headline."""
    writer = _DocWriter(rng, names, unseen_rate)
    genre = rng.choice(_GENRES)
    sentences = []
    if rng.random() < 0.7:
        casing = rng.choices(("title", "lower", "normal", "upper"), (0.4, 0.3, 0.2, 0.1))[0]
        sentences.append(writer.sentence(rng.choice(_HEADLINE_T[genre]), casing))
    while len(sentences) < size:
        pool = _BODY_T[genre] if rng.random() < 0.8 else _BODY_T[rng.choice(_GENRES)]
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
    n_train, n_dev, n_test = _split_counts(n_docs)
    labels = ["train"] * n_train + ["dev"] * n_dev + ["test"] * n_test
    rng.shuffle(labels)
    return labels


def make_ner_demo(*, seed: int = 0, n_sentences: int = 3000) -> dict[str, list[TokenExample]]:
    """English news-like NER data (PER, ORG, LOC, MISC; IOB2) split 80/10/10 by document.

    About a fifth of surnames, places, organisations, events and products never occur in
    train; dev/test draw them 25% of the time, so test scores measure generalisation.
    """
    _require("n_sentences", n_sentences, 10, "so that every split gets a document")
    rng = random.Random(seed)
    names = _draw_ner_names(rng)
    sizes = _doc_sizes(rng, n_sentences)
    out: dict[str, list[TokenExample]] = {s: [] for s in SPLITS}
    next_doc = dict.fromkeys(SPLITS, 0)
    for size, split in zip(sizes, _assign_splits(rng, len(sizes))):
        unseen = 0.0 if split == "train" else UNSEEN_RATE
        doc = next_doc[split]
        next_doc[split] += 1
        for tokens, tags in _write_document(rng, names, size, unseen):
            out[split].append(TokenExample(tuple(tokens), tuple(tags), doc=doc))
    return out


# --------------------------------------------------------------------------- text helpers

_FILL = re.compile(r"\{(\w+)\}")


def _fill(rng: random.Random, template: str, fillers: dict[str, _Pool], unseen: float) -> str:
    """Template with each {slot} replaced by a draw from its pool (fillers may nest once)."""
    text = template
    for _ in range(3):
        if "{" not in text:
            break
        text = _FILL.sub(lambda m: str(fillers[m.group(1)].draw(rng, unseen)), text)
    return text


def _tidy(text: str) -> str:
    """Single spaces and no space before punctuation."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" ([,.?!:;])", r"\1", text)


def _add_typos(rng: random.Random, text: str, rate: float) -> str:
    """Text with some words misspelt: two letters swapped, one dropped or one doubled."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) < 4 or not word.isalpha() or rng.random() >= rate:
            continue
        j = rng.randrange(1, len(word) - 1)
        op = rng.randrange(3)
        if op == 0:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2:]
        elif op == 1:
            word = word[:j] + word[j + 1:]
        else:
            word = word[:j] + word[j] + word[j:]
        words[i] = word
    return " ".join(words)


def _pools(rng: random.Random, lists: dict[str, Sequence[str]],
           fraction: float = HELD_OUT_FRACTION) -> dict[str, _Pool]:
    """A held-out pool per list, in a fixed (sorted) order so results depend on the seed only."""
    return {k: _hold_out(rng, lists[k], fraction) for k in sorted(lists)}


def _class_counts(n: int, weights: dict[str, float]) -> dict[str, int]:
    """Per-class counts proportional to weights summing to n (largest remainder)."""
    total = sum(weights.values())
    raw = {k: n * w / total for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def _make_single_label(rng: random.Random, n: int, weights: dict[str, float],
                       templates: dict[str, Sequence[str]], fillers: dict[str, _Pool],
                       style: Callable[[random.Random, str], str],
                       ) -> dict[str, list[TextExample]]:
    """Stratified 80/10/10 single-label data; a fifth of each class's templates skip train."""
    template_pools = {label: _hold_out(rng, templates[label]) for label in weights}
    out: dict[str, list[TextExample]] = {s: [] for s in SPLITS}
    for label, count in _class_counts(n, weights).items():
        for split, k in zip(SPLITS, _split_counts(count)):
            unseen = 0.0 if split == "train" else UNSEEN_RATE
            for _ in range(k):
                template = template_pools[label].draw(rng, unseen)
                text = style(rng, _fill(rng, template, fillers, unseen))
                out[split].append(TextExample(text, (label,)))
    for examples in out.values():
        rng.shuffle(examples)
    return out


# --------------------------------------------------------------------------- intents

_INTENTS = {
    "check_balance": _lines("""
what is my {acct} balance
how much money do i have in my {acct} account
show me the balance of my {acct} account
can you tell me my current balance
balance on my {acct} please
i need to know how much money is left in my {acct} account
how much is on the account ending in {digits}
did my salary arrive , what's my balance now
am i overdrawn on my {acct} account
what's the available balance on my {card}
how much money can i still spend this month
check my balance
is there enough money in my {acct} account to pay {amount}
what funds do i have right now
tell me how much money is in {acct}
what's left in my account after the last payment
my balance looks low , can you check it
give me the current balance for account {digits}
"""),
    "card_lost": _lines("""
i lost my {card}
my {card} was stolen {when}
i can't find my {card} anywhere
someone stole my wallet with my {card} in it
please block my {card} , it's missing
freeze my {card} right now , i lost it
i think i left my {card} at the {venue} and now it's lost
i need a replacement {card} because mine was stolen
how do i report a stolen card
my purse was stolen {when} with all my cards
the atm kept my {card} and i need it blocked
there are payments i didn't make , my {card} must be stolen
block my {card} , i lost it somewhere {when}
my {card} is missing
i've lost my {card} , what should i do
report my {card} as lost please
my {card} went missing at the {venue}
"""),
    "transfer_money": _lines("""
send {amount} to {person}
transfer {amount} from my {acct} to my {acct} account
i want to wire {amount} to {person}
how do i send money to {person}
pay {person} {amount}
make a transfer of {amount} to account {digits}
can i send money abroad to {country}
transfer {amount} into my {acct} account
i need to send my rent of {amount} to my landlord
set up a monthly transfer of {amount} to {person}
how long does an international transfer to {country} take
please send {person} {amount} {when}
split the bill and send {amount} to {person}
i'd like to transfer money to {person}
wire {amount} to account {digits} please
can you transfer {amount} to {country} for me
"""),
    "change_address": _lines("""
i moved to {street} , please change my address
update my address to {street} , {city}
i have a new home address
change the address on my account
please send my statements to my new address at {street}
we moved to {city} , how do i update my address
my address is wrong on your records
how can i change the address where you send my {card}
new address : {street} , {city}
i'm moving to {city} next month , what address details do i need to update
correct my postal address please
can i update my address in the app
i need to change my address to {street}
please record my new address in {city}
my address changed , it's now {street}
"""),
    "open_account": _lines("""
i'd like to open a {acct} account
how do i sign up for a new {acct} account
can my {relative} open an account here
what do i need to open an account
open a {acct} account for me
i want to open a new account with you
open a joint account with my {relative}
can i open an account online
what documents are required to open a {acct} account
is there a {acct} account for students i can open
i'm new in {city} and want to open an account
set me up with a new {acct} account
how long does it take to open a {acct} account
i want to become a customer and open an account
"""),
    "close_account": _lines("""
close my {acct} account
i want to cancel my account
how do i close my {acct} account
please close my account and cancel my membership
i'm leaving your bank , close everything
cancel my {acct} account
i no longer need my {acct} account , please close it
what happens to my money if i close the account
close my account and send the rest to {person}
i want to stop banking with you and close my account
how can i close the account of my late {relative}
shut down my {acct} account please
i'd like to cancel and close my {acct} account today
"""),
    "complaint": _lines("""
i am very unhappy with your {grievance}
your {grievance} is terrible
i've been waiting {duration} and nobody helped , this is terrible service
this is the worst service i have ever had
i want to file a complaint about your {grievance}
the staff at the {city} branch were rude , i want to complain
why is your {grievance} so bad
i'm disappointed , your {grievance} has not improved
nobody answered my emails for {duration} , terrible service
i'm fed up with the {grievance}
you charged me a fee i never agreed to and i want to complain
i want to speak to a manager about the {grievance}
i'd like to make a complaint
your {grievance} is awful and i am unhappy
i'm not happy with the service at the {city} branch
"""),
    "greeting": _lines("""
hello
hi there
good {tod}
hey , anyone there ?
hello , my name is {person}
good {tod} , hope you're well
hello there
hiya
hey
hi , {person} here
good {tod} to you
hello again
hi , how are you
hey there , good {tod}
hello , is anyone there
"""),
    "loan_inquiry": _lines("""
what are your {loan} rates
can i get a {loan} for {amount}
how much can i borrow for a {loan}
am i eligible for a {loan}
what's the interest rate on a {loan}
i'm thinking of buying a {purchase} , can i get a loan
how long does {loan} approval take
i'd like to apply for a {loan}
what would the monthly payment be on a {loan} of {amount}
do you offer loans to self-employed people
can i borrow {amount} over {years} years
is a {loan} cheaper with you than elsewhere
i need a loan to buy a {purchase}
what interest would i pay to borrow {amount}
tell me about your {loan} options
"""),
    "reset_password": _lines("""
i forgot my password
i can't log in to the app , i need to reset my password
reset my pin
i'm locked out of online banking , help me reset my password
my password isn't working
how do i change my login password
the app says my password is wrong
i need a new pin for my {card}
can't log in after updating my phone
send me a password reset link
my account got locked after too many wrong passwords
i forgot the pin for my {card}
please reset my online banking password
how do i reset my password
"""),
}

_INTENT_WEIGHTS = {"check_balance": 1.2, "card_lost": 1.0, "transfer_money": 1.2,
                   "change_address": 0.9, "open_account": 1.0, "close_account": 0.8,
                   "complaint": 1.0, "greeting": 0.7, "loan_inquiry": 1.0,
                   "reset_password": 0.9}

_INTENT_FILLERS = {
    "acct": ("savings", "checking", "current", "business", "joint", "student", "isa",
             "premium", "travel", "everyday"),
    "card": ("debit card", "credit card", "visa card", "bank card", "card", "mastercard",
             "business card", "contactless card", "gold card"),
    "when": ("yesterday", "this morning", "last night", "on the train", "an hour ago",
             "at the weekend", "today", "on holiday", "last week"),
    "venue": ("restaurant", "supermarket", "gym", "airport", "hotel", "cinema", "bar",
              "petrol station", "office"),
    "digits": tuple(f"{n:04d}" for n in (1234, 4821, 7730, 9102, 5566, 3048, 6617, 2290,
                                          8473, 1905)),
    "amount": ("$50", "100 dollars", "£200", "250 euros", "$1,000", "500", "£75", "$20",
               "3000 dollars", "€40", "fifty pounds", "$12.50"),
    "person": ("John", "my mom", "my landlord", "Maria", "Ahmed", "my brother", "Li Wei",
               "Priya", "my friend", "Tom Baker", "Sofia", "my sister", "Kofi", "Anna"),
    "country": ("Spain", "India", "Canada", "Kenya", "Mexico", "Japan", "Poland", "Brazil",
                "Australia", "Germany"),
    "street": ("12 Oak Street", "4 Mill Lane", "77 River Road", "9 Station Avenue",
               "210 High Street", "5 Park Close", "31 Elm Drive", "18 Church Walk",
               "46 Harbour View", "3 Meadow Way"),
    "city": ("Leeds", "Boston", "Toronto", "Dublin", "Glasgow", "Denver", "Perth", "Austin",
             "Bristol", "Lyon"),
    "relative": ("son", "daughter", "wife", "husband", "partner", "father", "mother",
                 "grandson", "niece"),
    "grievance": ("app", "customer service", "call centre", "website", "branch staff",
                  "overdraft fee", "phone line", "online banking", "refund process",
                  "chat bot", "support team", "mobile app"),
    "duration": ("two weeks", "three days", "an hour", "a month", "45 minutes", "ten days",
                 "all morning", "since monday"),
    "tod": ("morning", "afternoon", "evening", "day"),
    "loan": ("mortgage", "car loan", "personal loan", "student loan", "home loan",
             "business loan", "loan", "bridging loan", "credit line"),
    "purchase": ("car", "house", "flat", "boat", "new kitchen", "motorbike", "van"),
    "years": ("two", "three", "5", "10", "25", "seven"),
}

_PREFIXES = ("", "", "", "", "hi ,", "hello ,", "hey", "excuse me ,", "quick question :",
             "um", "please", "sorry to bother you but", "good morning ,", "hi team ,",
             "so", "ok")
_SUFFIXES = ("", "", "", "", "please", "thanks", "thank you", "asap", "?", "!", "thx",
             "cheers", "thanks in advance")


def _style_chat(rng: random.Random, text: str) -> str:
    """A chat message: optional greeting/politeness, typos, varied casing and punctuation."""
    text = f"{rng.choice(_PREFIXES)} {text} {rng.choice(_SUFFIXES)}"
    text = _add_typos(rng, _tidy(text), 0.05)
    casing = rng.random()
    if casing < 0.3:
        text = _capitalise(text)
    elif casing < 0.37:
        text = text.upper()
    elif casing < 0.45:
        text = " ".join(_capitalise(w) for w in text.split(" "))
    return text


def make_intent_demo(*, seed: int = 0, n_examples: int = 2000) -> dict[str, list[TextExample]]:
    """Banking customer-service messages labelled with one of 10 intents, stratified 80/10/10.

    A fifth of each intent's templates and slot fillers never occur in train.
    """
    _require("n_examples", n_examples, 10 * len(_INTENTS),
             "so that every intent appears in every split")
    rng = random.Random(seed)
    fillers = _pools(rng, _INTENT_FILLERS)
    return _make_single_label(rng, n_examples, _INTENT_WEIGHTS, _INTENTS, fillers, _style_chat)


# --------------------------------------------------------------------------- sentiment

_SENTIMENT = {
    "positive": _lines("""
{co} shares rose {pct}% after {good_news}
{co} posts record {period} profit
{co} beats forecasts as {metric} rises {pct}%
{co} raises full-year outlook on strong demand
{co} wins {money} contract from {co}
{co} shares rise on strong demand for its {product}
analysts upgrade {co} to buy, citing {good_news}
{co} raises dividend by {pct}%
{co} returns to profit in the {period}
{co} {metric} up {pct}% year on year
{co} shares hit record high after {good_news}
{co} reports {pct}% growth in {metric}
{co} shares jump {pct}% on {good_news}
{co} profit rises {pct}% as {metric} grows
{co} beats expectations with strong {period} results
{co} stock gains after {good_news}
{co} upgrades profit forecast after {good_news}
"""),
    "negative": _lines("""
{co} shares fell {pct}% after {bad_news}
{co} cuts {jobs} jobs as sales fall
{co} warns of lower {period} profit
{co} misses forecasts, shares drop {pct}%
regulators fine {co} {money} over {issue}
{co} posts {period} loss of {money}
{co} recalls {product} over safety concerns
analysts downgrade {co} to sell after {bad_news}
{co} {metric} down {pct}% year on year
{co} suspends dividend amid {issue}
{co} shares slump on {bad_news}
{co} loses {money} contract to {co}
{co} profit falls {pct}% as {metric} weakens
{co} cuts full-year outlook, blaming {bad_news}
{co} shares drop to record low after {bad_news}
{co} stock falls on weak demand for its {product}
{co} misses expectations with weak {period} results
"""),
    "neutral": _lines("""
{co} to report {period} results on {weekday}
{co} appoints {person} as chief financial officer
{co} shares unchanged at {price} pence
{co} to hold annual meeting in {city}
{co} to move headquarters to {city}
{co} says {period} results will be published on {weekday}
{co} announces board changes
{co} will publish its annual report on {weekday}
{co} and {co} sign memorandum on {topic}
{co} names {person} head of {unit}
{co} to present at investor conference in {city}
{co} confirms talks with {co} on {topic}
{co} trading volume was {volume} shares on {weekday}
{co} updates shareholders on {topic}
{co} opens office in {city}
{co} to hold {period} results call on {weekday}
{co} announces date of annual meeting
{co} appoints {person} to board
"""),
}

_SENTIMENT_WEIGHTS = {"positive": 0.3, "negative": 0.27, "neutral": 0.43}

_SENTIMENT_FILLERS = {
    "co": tuple(c for c in _COMPANIES if "{" not in c),
    "pct": tuple(str(p) for p in (2, 3, 4.5, 5, 6, 7.2, 8, 9.5, 11, 12, 15, 18, 22, 1.8)),
    "period": ("first-quarter", "second-quarter", "third-quarter", "fourth-quarter",
               "half-year", "full-year", "quarterly", "annual"),
    "metric": ("revenue", "net income", "operating profit", "sales", "orders", "margins",
               "earnings per share", "bookings", "subscriber numbers"),
    "good_news": ("a strong quarter", "upbeat guidance", "a takeover offer",
                  "a surge in orders", "record sales", "a new supply deal",
                  "better-than-expected results", "a share buyback", "higher margins",
                  "successful drug trials"),
    "bad_news": ("weak demand", "a profit warning", "falling margins", "a failed merger",
                 "rising costs", "disappointing results", "a drop in orders",
                 "a data breach", "supply problems", "a credit downgrade"),
    "issue": ("accounting errors", "a safety scandal", "a data breach", "price fixing",
              "misleading customers", "an emissions probe", "a product recall"),
    "money": ("$40 million", "€1.2 billion", "£300 million", "$2 billion", "€85 million",
              "$650 million", "£1.1 billion"),
    "product": ("batteries", "cloud services", "electric vans", "smartphones", "vaccines",
                "solar panels", "frozen meals", "chips", "wind turbines", "tablets"),
    "jobs": ("200", "1,500", "3,000", "450", "12,000", "800", "2,400"),
    "weekday": _WEEKDAYS[:5],
    "price": ("412", "98", "1,250", "37", "640", "215", "1,875"),
    "city": ("London", "Frankfurt", "Singapore", "Toronto", "Zurich", "Dubai", "Oslo",
             "Madrid", "Seoul", "Chicago"),
    "topic": ("supply chains", "data sharing", "research", "logistics", "energy storage",
              "payments", "distribution", "sustainability"),
    "person": ("Anna Keller", "Omar Haddad", "Lucia Navarro", "Kenji Tanaka", "Grace Okafor",
               "Pierre Dubois", "Meera Iyer", "Sven Berglund", "Helen Marsh"),
    "unit": ("its retail arm", "the cloud division", "European operations", "research",
             "its insurance business", "the trading unit", "marketing"),
    "volume": ("1.2 million", "350,000", "2.8 million", "640,000", "4.1 million"),
}


def _style_headline(rng: random.Random, text: str) -> str:
    """A headline, usually sentence-cased."""
    text = _tidy(text)
    return _capitalise(text) if rng.random() < 0.85 else text


def make_sentiment_demo(*, seed: int = 0, n_examples: int = 1500) -> dict[str, list[TextExample]]:
    """Financial-news headlines labelled positive/negative/neutral, stratified 80/10/10."""
    _require("n_examples", n_examples, 30, "so that every class appears in every split")
    rng = random.Random(seed)
    fillers = _pools(rng, _SENTIMENT_FILLERS)
    return _make_single_label(rng, n_examples, _SENTIMENT_WEIGHTS, _SENTIMENT, fillers,
                              _style_headline)


# --------------------------------------------------------------------------- multi-label

TICKET_LABELS = ("billing", "technical", "account", "shipping", "urgent")

_TICKET_CLAUSES = {
    "billing": _lines("""
i was charged twice for my {plan} subscription
my invoice {invoice} shows the wrong amount
i need a refund of {amount}
the payment for order {order} failed but the money was still charged to my card
why did my monthly fee go up to {amount}
you charged me after i cancelled the {plan} plan
the discount code was not applied to my bill
i can't download the invoice {invoice}
please explain the extra charge of {amount} on my bill
my card payment was declined although it has funds
i'm still waiting for the refund for invoice {invoice}
the bill for the {plan} plan is higher than the price you advertised
i want a refund for the duplicate payment of {amount}
your invoice {invoice} charges tax twice
"""),
    "technical": _lines("""
the app crashes whenever i open {feature}
i get error {code} when i try to {action}
the website won't load on my {device}
{feature} has been broken since the last app update
the app freezes when i {action}
notifications stopped working in the app on my {device}
sync between my {device} and the web app fails with error {code}
the {feature} button does nothing , it looks like a bug
the app is extremely slow on my {device}
i keep getting a blank screen with error {code} in {feature}
there is a bug in {feature} that crashes the page
the website shows error {code} every time i {action}
after the update the app crashes on my {device}
"""),
    "account": _lines("""
i can't log into my account
please change the email on my account profile to {email}
i want to delete my account
my account username was changed without my permission
how do i add a second user to my account
i never received the account verification email for {email}
please merge my two accounts
my account profile shows someone else's name
i need to update the phone number on my account
two-factor login keeps rejecting my code and i'm locked out of my account
my account password reset email never arrives at {email}
please transfer my account to the email {email}
someone else may have accessed my account
"""),
    "shipping": _lines("""
my package for order {order} hasn't arrived after {days} days
the tracking number {tracking} doesn't work
the courier left my parcel at the wrong address
i need to change the delivery date for order {order}
the package arrived damaged
only half of order {order} was delivered
delivery was promised for {weekday} but my parcel never came
can you ship order {order} to a different delivery address
the parcel for order {order} has been stuck in customs for {days} days
i received someone else's package instead of order {order}
the courier says order {order} was delivered but i have no parcel
tracking for my package {tracking} has not updated in {days} days
my delivery for order {order} is late
"""),
    "urgent": _lines("""
this is urgent
please help asap
i need this fixed today , it's urgent
it's an emergency , my business depends on it
please respond immediately
this is the third time i am writing , please hurry , it's urgent
we have a deadline tomorrow , please help asap
i need an answer within the hour , urgent
urgent : please fix this immediately
this cannot wait , i need help today
"""),
}

_TICKET_FILLERS = {
    "plan": ("basic", "pro", "family", "premium", "annual", "team", "starter"),
    "invoice": ("INV-2041", "INV-3377", "INV-1180", "INV-9052", "INV-4613", "INV-7719"),
    "amount": ("$19.99", "$49", "€120", "£35", "$240", "€9.50", "$75"),
    "order": ("#10452", "#88213", "#50977", "#31008", "#74620", "#26935", "#61184"),
    "feature": ("the dashboard", "settings", "the calendar", "reports", "the inbox",
                "search", "the export page", "checkout"),
    "code": ("500", "E-204", "403", "X17", "0x80", "timeout-9", "502"),
    "action": ("upload a file", "save my changes", "export a report", "pay",
               "open an attachment", "log out", "print"),
    "device": ("iphone", "android phone", "laptop", "tablet", "mac", "windows pc",
               "chromebook"),
    "email": ("anna@example.com", "j.doe@example.org", "omar.h@example.net",
              "li.wei@example.com", "sam@example.org", "kofi@example.net"),
    "days": ("five", "10", "three", "two weeks of", "12", "eight"),
    "tracking": ("TRK4410982", "ZX-55102", "1Z999A10", "TRK0071234", "PK-33019"),
    "weekday": _WEEKDAYS,
}

_OPENERS = ("", "", "Hi,", "Hello,", "Hello team,", "Dear support,", "Hey,", "Good morning,")
_JOINERS = (". ", ". Also, ", ". On top of that, ", " and ", ". Another thing: ", ". Plus ")
_CLOSERS = ("", "", "", "Thanks.", "Regards.", "Thank you!", "Cheers.")


def _ticket_labels(rng: random.Random) -> tuple[str, ...]:
    """1-3 labels in TICKET_LABELS order; 'urgent' only together with a topic."""
    k = rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]
    topics = list(TICKET_LABELS[:-1])
    if k >= 2 and rng.random() < 0.4:
        chosen = set(rng.sample(topics, k - 1)) | {"urgent"}
    else:
        chosen = set(rng.sample(topics, k))
    return tuple(label for label in TICKET_LABELS if label in chosen)


def _write_ticket(rng: random.Random, labels: tuple[str, ...], clauses: dict[str, _Pool],
                  fillers: dict[str, _Pool], unseen: float) -> str:
    """A ticket with one clause per label, topics in random order and urgency first or last."""
    topics = [label for label in labels if label != "urgent"]
    rng.shuffle(topics)
    parts = [_fill(rng, clauses[t].draw(rng, unseen), fillers, unseen) for t in topics]
    body = parts[0]
    for part in parts[1:]:
        body += rng.choice(_JOINERS) + part
    body = _capitalise(body) + "."
    if "urgent" in labels:
        urgency = _capitalise(clauses["urgent"].draw(rng, unseen)) + "!"
        body = f"{urgency} {body}" if rng.random() < 0.5 else f"{body} {urgency}"
    text = _tidy(f"{rng.choice(_OPENERS)} {body} {rng.choice(_CLOSERS)}")
    text = re.sub(r"\bi\b", "I", text)
    # sentence case: upper after a full stop, lower after the opener's comma
    text = re.sub(r"([.!?]) ([a-z])", lambda m: f"{m.group(1)} {m.group(2).upper()}", text)
    text = re.sub(r"^(\w+(?: \w+)?), ([A-Z])([a-z])",
                  lambda m: f"{m.group(1)}, {m.group(2).lower()}{m.group(3)}", text)
    return _add_typos(rng, text, 0.02)


def make_multilabel_demo(*, seed: int = 0, n_examples: int = 1500) -> dict[str, list[TextExample]]:
    """Support tickets tagged with 1-3 of billing/technical/account/shipping/urgent, 80/10/10."""
    _require("n_examples", n_examples, 30, "so that every split gets examples")
    rng = random.Random(seed)
    clauses = {label: _hold_out(rng, _TICKET_CLAUSES[label]) for label in TICKET_LABELS}
    fillers = _pools(rng, _TICKET_FILLERS)
    out: dict[str, list[TextExample]] = {}
    for split, k in zip(SPLITS, _split_counts(n_examples)):
        unseen = 0.0 if split == "train" else UNSEEN_RATE
        examples = []
        for _ in range(k):
            labels = _ticket_labels(rng)
            examples.append(TextExample(_write_ticket(rng, labels, clauses, fillers, unseen),
                                        labels))
        out[split] = examples
    return out


# --------------------------------------------------------------------------- catalogue

DEMOS: dict[str, dict] = {
    "demo-ner": {
        "name": "demo-ner", "task": "ner", "make": make_ner_demo,
        "description": "English news-style sentences with PER, ORG, LOC and MISC entities "
                       "(IOB2), grouped in documents; test holds names unseen in train."},
    "demo-intent": {
        "name": "demo-intent", "task": "classification", "make": make_intent_demo,
        "description": "Banking customer-service messages in 10 intents, with typos and "
                       "casing noise; some phrasings appear only in dev/test."},
    "demo-sentiment": {
        "name": "demo-sentiment", "task": "classification", "make": make_sentiment_demo,
        "description": "Financial-news headlines labelled positive, negative or neutral."},
    "demo-multilabel": {
        "name": "demo-multilabel", "task": "multilabel", "make": make_multilabel_demo,
        "description": "Support tickets tagged with 1-3 of billing, technical, account, "
                       "shipping and urgent."},
}


def make_demo(name: str, seed: int = 0, **kw) -> dict[str, list]:
    """The splits of the demo dataset `name` (a key of DEMOS, or its short form: "ner" for
    "demo-ner", as run configs write "demo:ner"); kw go to its generator."""
    key = name if name in DEMOS else f"demo-{name}"
    if key not in DEMOS:
        raise ConfigError(f"unknown demo dataset {name!r}; known: {', '.join(sorted(DEMOS))}")
    return DEMOS[key]["make"](seed=seed, **kw)
