"""Small word lists for the demos: months, weekdays, numbers, sports, title-case small words."""
from __future__ import annotations

MONTHS = tuple("""January February March April May June July August September October
November December""".split())
WEEKDAYS = tuple("Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
NUMBER_WORDS = tuple("two three four five six seven eight nine ten twelve twenty".split())
SPORTS = tuple("Soccer Tennis Cycling Athletics Rugby Golf Cricket Basketball".split())
SMALL_WORDS = frozenset("a an and at by for in of on or the to vs de van der la al".split())
