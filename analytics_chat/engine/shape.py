"""What a question's wording says about the shape of its answer, read with rules, not with the model.

A 1.5B model asked for a semantic query tends to add groupings nobody asked for ("average discount on
Furniture" grouped by product) and to forget the limit of "which country has the most ...". The wording
settles both: a breakdown needs a word such as "by", "per", "each", "which" or "top"; a superlative asks
for an ordering and a limit; "monthly" or "per quarter" names a time grain. The semantic path shows the
model only the parts of a query the question has words for, and fills a ranking the model left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "fifteen": 15, "twenty": 20, "fifty": 50, "hundred": 100,
}  # fmt: skip
_COUNT = r"(\d{1,4}|" + "|".join(_NUMBER_WORDS) + r")"

# Words that ask for one row per group.
_BREAKDOWN = re.compile(
    r"\b(by|per|each|every|which|who|whom|whose|top|bottom|breakdown|broken\s+down|split|across|compare|"
    r"comparison|versus|vs\.?|distribution|list|ranking|rank|trend|over\s+time|grouped|group)\b",
    re.IGNORECASE,
)
_TOP = re.compile(rf"\b(top|best|highest|largest|biggest|strongest)\s+{_COUNT}\b", re.IGNORECASE)
_BOTTOM = re.compile(rf"\b(bottom|worst|lowest|smallest|weakest|poorest)\s+{_COUNT}\b", re.IGNORECASE)
_N_MOST = re.compile(rf"\b{_COUNT}\s+(most|highest|largest|biggest|best|strongest)\b", re.IGNORECASE)
_N_LEAST = re.compile(rf"\b{_COUNT}\s+(least|lowest|smallest|fewest|worst|weakest|poorest)\b", re.IGNORECASE)
_WHICH_N = re.compile(rf"^\s*(which|what|who)\s+((are|were)\s+the\s+)?{_COUNT}\b", re.IGNORECASE)
_LIST_N = re.compile(rf"\b(list|show|name|give)\s+(me\s+)?(the\s+)?{_COUNT}\b", re.IGNORECASE)
# "Which city has the most stores?", "Who sold the least?": one row, the extreme one.
_SINGLE = re.compile(r"^\s*(which|who|what)\b(?!.*\b(each|per|every|all)\b)", re.IGNORECASE)
_MOST = re.compile(r"\b(most|highest|largest|biggest|best|greatest|maximum|top|strongest)\b", re.IGNORECASE)
_LEAST = re.compile(r"\b(least|lowest|smallest|fewest|worst|minimum|bottom|weakest|poorest)\b", re.IGNORECASE)
_GRAINS = {
    # Date parts first: "by day of the week" is a weekday, not a day; "calendar month" is 1 to 12.
    "weekday": re.compile(r"\b(weekdays?|day\s+of\s+(the\s+)?week|days\s+of\s+the\s+week)\b", re.I),
    "month_of_year": re.compile(r"\b(calendar\s+months?|months?\s+of\s+(the\s+)?year)\b", re.I),
    "day": re.compile(r"\b(daily|per\s+day|by\s+day|each\s+day|every\s+day|day\s+by\s+day)\b", re.I),
    "week": re.compile(r"\b(weekly|per\s+week|by\s+week|each\s+week|every\s+week)\b", re.I),
    "month": re.compile(
        r"\b(monthly|per\s+month|by\s+month|each\s+month|every\s+month|month\s+over\s+month|"
        r"month\s+by\s+month)\b",
        re.I,
    ),
    "quarter": re.compile(r"\b(quarterly|per\s+quarter|by\s+quarter|each\s+quarter|every\s+quarter)\b", re.I),
    "year": re.compile(
        r"\b(yearly|annual|annually|per\s+year|by\s+year|each\s+year|every\s+year|year\s+over\s+year|"
        r"for\s+each\s+year)\b",
        re.I,
    ),
}


_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# Words that name a period: a year, a month, "last quarter", "since March", "year to date".
_PERIOD = re.compile(
    rf"\b((19|20)\d{{2}}|q[1-4]|{_MONTHS}|ytd|year\s+to\s+date|today|yesterday|recent|recently|"
    r"(this|last|past|previous|prior|current|next)\s+(\d+\s+)?"
    r"(years?|quarters?|months?|weeks?|days?))\b",
    re.IGNORECASE,
)


_COMPARISON = re.compile(
    r"\b(more|less|fewer|greater|larger|smaller|higher|lower|bigger)\s+than\b|"
    r"\b(over|above|below|under|at\s+least|at\s+most|exceeds?|exceeding)\s+\$?\d|[<>]=?\s*\d",
    re.I,
)
# "spent over 10,000", "more than 5 orders", "at least $200": a comparison with a number, as an operator
_THRESHOLD = re.compile(
    r"\b(?P<op>more\s+than|greater\s+than|larger\s+than|higher\s+than|bigger\s+than|over|above|exceeding|"
    r"exceeds?|at\s+least|less\s+than|fewer\s+than|lower\s+than|smaller\s+than|under|below|at\s+most)"
    r"\s+\$?(?P<number>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\d,.]*\s*%)(?!\s*percent)\b"
    r"(?:\s+(?P<unit>[a-z]+))?",
    re.I,
)
_THRESHOLD_OPS = {"at least": ">=", "at most": "<="}
_BELOW_WORDS = ("less", "fewer", "lower", "smaller", "under", "below")


# "what share of revenue", "the percentage of orders", "% of sales": a part of a total
_SHARE_OF = re.compile(r"\b(share|percentage|percent|proportion|fraction)\s+of\b|%\s+of\b", re.I)
# "gross margin as a share of revenue": one measure over another, not a part of its own total
_AS_SHARE_OF = re.compile(r"\bas\s+an?\s+(share|percentage|percent|proportion|fraction)\s+of\b", re.I)
_GROWTH = re.compile(
    r"\b(grow|grows|grew|grown|growth|increase[ds]?|decrease[ds]?|decline[ds]?|change[ds]?)\b", re.I
)
# "the ratio of cancelled to completed orders", "margin as a share of revenue": one measure over another
_RATIO = re.compile(
    r"\bratio\s+(of|between)\b|\bdivided\s+by\b|\bas\s+an?\s+(share|percentage|percent|proportion|fraction)\s+of\b",
    re.I,
)
PERCENT_WORDS = re.compile(r"\b(percent|percentage)\b|%", re.I)


def growth_periods(question: str) -> tuple[str, str] | None:
    """The two years a question about growth or change compares, earlier first.

    >>> growth_periods("By what percent did revenue grow from 2023 to 2024?")
    ('2023', '2024')
    >>> growth_periods("Revenue in 2024 vs 2023: how much did it change?"), growth_periods("Revenue 2024")
    (('2023', '2024'), None)
    """
    years = sorted({m.group(0) for m in _YEAR.finditer(question)})
    if len(years) != 2 or not _GROWTH.search(question):
        return None
    return years[0], years[1]


@dataclass(frozen=True)
class Threshold:
    """A comparison with a number the question makes: ">" 10000 for "spent over 10,000"."""

    op: str
    value: float | int
    unit: str = ""  # the word after the number: "orders" in "more than 5 orders"


def thresholds(question: str) -> tuple[Threshold, ...]:
    """The comparisons with numbers a question makes (not years, not percentages).

    >>> thresholds("Which customers spent over 10,000 in 2025?")
    (Threshold(op='>', value=10000, unit='in'),)
    >>> thresholds("cities with at least 3 stores and fewer than 2.5 returns")
    (Threshold(op='>=', value=3, unit='stores'), Threshold(op='<', value=2.5, unit='returns'))
    """
    found = []
    for match in _THRESHOLD.finditer(question):
        words = " ".join(match["op"].lower().split())
        op = _THRESHOLD_OPS.get(words) or ("<" if words.startswith(_BELOW_WORDS) else ">")
        text = match["number"].replace(",", "")
        if re.fullmatch(r"(19|20)\d{2}", text) and words in ("over", "under", "above", "below"):
            continue  # "over 2024" is no threshold
        found.append(Threshold(op, float(text) if "." in text else int(text), (match["unit"] or "").lower()))
    return tuple(found)


_TREND = re.compile(r"\b(trend|trends|over\s+time)\b", re.I)
_SORTING = re.compile(
    r"\b(sort|sorted|order\s+by|ordered\s+(?:by|from)|rank|ranked|ranking|ascending|descending|alphabetical(?:ly)?)\b",
    re.I,
)  # "customers who have ordered" asks for no order
# A whole year, said as such: "in 2024", "for 2023" (not "since 2023" or "2023 to 2024").
_WHOLE_YEAR = re.compile(
    r"\b(in|for|during|of|over)\s+(the\s+year\s+)?((19|20)\d{2})\b(?!\s*(-|to|and|through|until))", re.I
)
_PARTS_OF_YEARS = re.compile(
    rf"\b(q[1-4]|quarter|{_MONTHS}|since|until|before|after|between|from|week|day)\b", re.I
)


# "the 90th percentile", "25th and 75th percentiles", "median": a percentile of per-row or per-entity values
PERCENTILE_WORDS = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)(?:\s+and\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th))?\s+percentiles?\b", re.I
)
_MEDIAN = re.compile(r"\bmedian\b", re.I)
AVERAGE_WORDS = re.compile(r"\b(average|averages|avg|mean)\b", re.I)


def aggregates_asked(question: str) -> tuple[str, ...]:
    """The aggregates a question asks for across values, as semantic query names.

    >>> aggregates_asked("the 25th and 75th percentiles of revenue"), aggregates_asked("median order value")
    (('p25', 'p75'), ('median',))
    >>> aggregates_asked("On average, how much has each customer spent?")
    ('avg',)
    """
    found = [f"p{n}" for m in PERCENTILE_WORDS.finditer(question) for n in m.groups() if n]
    if _MEDIAN.search(question):
        found.append("median")
    if not found and AVERAGE_WORDS.search(question):
        found.append("avg")
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Ranking:
    direction: str  # "desc" or "asc"
    limit: int


@dataclass(frozen=True)
class QuestionShape:
    breakdown: bool  # the answer has one row per group
    ranking: Ranking | None  # "top 5", "which ... the most"
    grain: str | None  # "month" for "monthly revenue"
    period: bool = False  # names a period ("in 2024", "last month"): the answer has a time range
    year: str | None = None  # the period is one whole year ("in 2024")
    sorting: bool = False  # asks for an order without a ranking ("sorted by revenue")
    comparison: bool = False  # compares with a number ("more than 10 orders")
    aggregates: tuple[str, ...] = ()  # "median", "p90", "avg": asked across values
    thresholds: tuple[Threshold, ...] = ()  # "spent over 10,000"
    share: bool = False  # "what share of revenue comes from ..."
    growth: tuple[str, str] | None = None  # "growth from 2023 to 2024"
    percent: bool = False  # "percent", "percentage", "%": a share or growth times 100
    ratio: bool = False  # "the ratio of X to Y": one metric over another


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def _ranking(question: str) -> Ranking | None:
    for pattern, direction in ((_TOP, "desc"), (_BOTTOM, "asc")):
        match = pattern.search(question)
        if match:
            return Ranking(direction, _count(match.group(2)))
    for pattern, direction in ((_N_MOST, "desc"), (_N_LEAST, "asc")):
        match = pattern.search(question)
        if match:
            return Ranking(direction, _count(match.group(1)))
    listed = _LIST_N.search(question)
    most, least = _MOST.search(question), _LEAST.search(question)
    if listed and (most or least):
        return Ranking("asc" if least and not most else "desc", _count(listed.group(4)))
    which_n = _WHICH_N.search(question)
    if which_n and (most or least):  # "Which 4 stores sold the most units?"
        return Ranking("asc" if least and not most else "desc", _count(which_n.group(4)))
    if _SINGLE.search(question) and (most or least):
        # Whichever superlative comes first decides ("the most ... with the least ..." is rare).
        first = min((m for m in (most, least) if m), key=lambda m: m.start())
        return Ranking("desc" if first is most else "asc", 1)
    return None


def question_shape(question: str) -> QuestionShape:
    grain = next((name for name, pattern in _GRAINS.items() if pattern.search(question)), None)
    if grain is None and _TREND.search(question):  # "the revenue trend": a monthly series
        grain = "month"
    ranking = _ranking(question)
    growth = growth_periods(question)
    breakdown = bool(_BREAKDOWN.search(question)) or ranking is not None or grain is not None
    period = bool(_PERIOD.search(question))
    whole_years = {m.group(3) for m in _WHOLE_YEAR.finditer(question)}
    year = None
    if len(whole_years) == 1 and mentioned_year(question) and not _PARTS_OF_YEARS.search(question):
        year = whole_years.pop()
    return QuestionShape(
        breakdown=breakdown,
        ranking=ranking,
        grain=grain,
        period=period,
        year=year,
        sorting=bool(_SORTING.search(question)),
        comparison=bool(_COMPARISON.search(question)),
        aggregates=aggregates_asked(question),
        thresholds=thresholds(question),
        share=bool(_SHARE_OF.search(question)) and not _AS_SHARE_OF.search(question) and not growth,
        growth=growth,
        percent=bool(PERCENT_WORDS.search(question)),
        ratio=bool(_RATIO.search(question)) and not growth,
    )


def unplaced_names(question: str, placed: list[str]) -> bool:
    """Whether the question has a capitalised name or a quoted text that no known value accounts for
    (after the first word): a value of a dimension whose values are not listed, such as a customer."""
    text = question
    for value in placed:
        text = re.sub(re.escape(value), " ", text, flags=re.I)
    if re.search(r"['\"][^'\"]{2,}['\"]", text):
        return True
    words = re.findall(r"[A-Za-z][\w'-]*", text)
    return any(word[0].isupper() and word.upper() != word for word in words[1:])


_NEGATION = re.compile(
    r"\b(not|excluding|exclude|except|without|other\s+than|besides|apart\s+from|non)\W+(\w+\W+){0,2}$", re.I
)


def negated(text_before: str) -> bool:
    """Whether a mention is negated by the words just before it ("excluding web orders")."""
    return bool(_NEGATION.search(text_before))


# The words around a follow-up's new value or grain: "and only for Canada?", "what about 2024", "now by month".
_REFINEMENT_WORDS = frozenset(
    [
        "a",
        "about",
        "and",
        "are",
        "at",
        "based",
        "be",
        "broken",
        "but",
        "by",
        "can",
        "change",
        "could",
        "down",
        "each",
        "for",
        "from",
        "group",
        "grouped",
        "how",
        "i",
        "in",
        "instead",
        "is",
        "it",
        "just",
        "make",
        "me",
        "now",
        "of",
        "on",
        "only",
        "please",
        "per",
        "restrict",
        "same",
        "see",
        "show",
        "split",
        "than",
        "that",
        "the",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "too",
        "what",
        "with",
        "within",
        "would",
        "you",
    ]
)
_YEAR = re.compile(r"\b(19|20)\d{2}\b")


def mentioned_year(question: str) -> str | None:
    """The one year a question names ("what about 2024?"), else None."""
    years = {m.group(0) for m in _YEAR.finditer(question)}
    return years.pop() if len(years) == 1 else None


# How an answer is shown, not what it computes: "Can you put that in a bar chart?", "chart it", "as a table".
PRESENTATION_WORDS = frozenset(
    [
        "chart",
        "charts",
        "graph",
        "plot",
        "plotted",
        "visualize",
        "visualise",
        "visualization",
        "visualisation",
        "draw",
        "bar",
        "bars",
        "line",
        "lines",
        "pie",
        "donut",
        "column",
        "columns",
        "table",
        "tabular",
        "sql",
        "query",
        "put",
        "turn",
        "display",
        "give",
        "instead",
        "version",
        "form",
        "it",
        "as",
    ]
)


def is_presentation_change(question: str) -> bool:
    """The follow-up only asks to show the previous answer another way (a chart, a table, its SQL)."""
    words = set(re.findall(r"[a-z0-9']+", question.lower()))
    return bool(words & PRESENTATION_WORDS) and not (words - PRESENTATION_WORDS - _REFINEMENT_WORDS)


def is_refinement(question: str, values: list[str]) -> bool:
    """The question only adds stored values, a grain or a year to the previous one ("Just for Canada.",
    "and by month?", "what about 2024?"): every other word is one of the small words around such a change."""
    text = question.lower()
    for value in sorted(values, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value.lower())}(?!\w)", " ", text)
    for pattern in _GRAINS.values():
        text = pattern.sub(" ", text)
    text = _YEAR.sub(" ", text)
    changed = text != question.lower()
    leftover = set(re.findall(r"[a-z0-9']+", text)) - _REFINEMENT_WORDS
    return changed and not leftover
