"""Does a plan answer the whole question? What the question states, checked against the SQL that answers it.

A small model that cannot express part of a question does not say so: it drops the part ("customer 42"
vanishes), or puts a neighbour in its place (an average for a median, revenue for a headcount). So before
anything runs, the question's own statements are read with rules (:func:`question_facts`) and each one
must be found in the plan's SQL AST (:func:`unaccounted`), whichever path wrote it:

- every number it names (an id, a threshold, a top N, a percentile), and every year;
- every stored value and every proper name it names ("Electronics", "Kenji Suzuki");
- a negation ("never", "no orders", "without") as a negation in the SQL;
- the aggregate it asks for: a percentile or median, a share, rate, ratio or growth (a division), an
  average, the first or last of something; and for "average revenue per customer" or "the median order
  value", an aggregate of totals per entity (or over the entity's own rows), not of single rows;
- the entity it counts ("how many customers" counts customers, not orders);
- rows when it asks for a list, not one figure;
- a weekday or a calendar month when it groups by one.

Each check is a general reading of the question's words and the query's structure, kept strict on what
it accepts so that a plan that drops a statement goes to the next way of answering, and a question that
no way can express is refused with the reason (see ``engine.answer``).

>>> from analytics_chat.engine.linking import SchemaView, TableInfo, ColumnInfo
>>> shop = SchemaView("shop", "", [TableInfo("orders", [ColumnInfo("order_id", "BIGINT", is_primary_key=True),
...     ColumnInfo("customer_id", "BIGINT"), ColumnInfo("amount", "DOUBLE")])], [])
>>> facts = question_facts("What did customer 42 spend?", shop)
>>> [f.describe() for f in unaccounted(facts, "SELECT sum(amount) FROM orders", shop)]
['the number 42']
>>> unaccounted(facts, "SELECT sum(amount) FROM orders WHERE customer_id = 42", shop)
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import sqlglot
from sqlglot import exp

from catalog.column_types import duckdb_type, is_text
from catalog.text import name_words

from .linking import SchemaView, TableInfo, ValueMatch, match_values
from .shape import AVERAGE_WORDS, PERCENTILE_WORDS, PRESENTATION_WORDS

NUMBER = "number"
YEAR = "year"
YEAR_RANGE = "year_range"
VALUE = "value"
NEGATION = "negation"
PERCENTILE = "percentile"
DIVISION = "division"
AVERAGE = "average"
EXTREME = "extreme"
ENTITY = "entity"
ROWS = "rows"
WEEKDAY = "weekday"
MONTH_OF_YEAR = "month_of_year"
GRAIN = "grain"
METRIC = "metric"
PER_ENTITY = "per_entity"
GROUPING = "grouping"
FIELD = "field"
SHARE_OF = "share_of"  # "what share of order lines ...": a count of the entity's rows over a count of them
ONE_FIGURE = "one_figure"  # "How many orders ...?" with no groups asked: one number, not a count per group
TIMES = "times"  # a count compared with a number said in words: "a single line", "only once", "twice"


@dataclass(frozen=True)
class Fact:
    """One statement of the question that the plan must account for."""

    kind: str
    text: str  # the question's words
    value: str = ""  # what to look for: a number, a year, a value, a table
    column: str = ""  # the column a stored value was found in ("customers.city")
    needs: tuple[str, ...] = ()  # METRIC: the columns and literals of its definition
    definition: str = ""  # METRIC: its SQL definition, for the prompt

    def describe(self) -> str:
        return {
            NUMBER: f"the number {self.text}",
            YEAR: f"the year {self.text}",
            YEAR_RANGE: f"the years {self.text}",
            VALUE: f"'{self.text}'",
            NEGATION: f"the negation '{self.text}'",
            PERCENTILE: f"the {self.text}",
            DIVISION: f"the {self.text} (a division)",
            AVERAGE: f"the {self.text}",
            EXTREME: f"'{self.text}' (the first or last one)",
            ENTITY: f"counting {self.text}",
            ROWS: "a list of rows",
            WEEKDAY: "grouping by weekday",
            MONTH_OF_YEAR: "grouping by calendar month",
            GRAIN: f"one row per {self.text}",
            METRIC: f"{self.text} as the business defines it",
            PER_ENTITY: f"the total per {self.text} before the aggregate",
            GROUPING: f"one row per {self.text}",
            FIELD: f"the {self.text} of each row",
            SHARE_OF: f"the share of {self.text} (their count over the count of all of them)",
            ONE_FIGURE: "one figure for the whole question, not one per group",
            TIMES: f"a count compared with {self.value} ('{self.text}')",
        }[self.kind]


_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_YEAR = re.compile(r"(?<![\w#.,])((?:19|20)\d{2})(?![\w.,]\d|\d)")
_YEAR_RANGE = re.compile(
    r"(?<![\w#.,])((?:19|20)\d{2})\s*(?:through|thru|to|until|till|-|\u2013|and)\s*((?:19|20)\d{2})(?![\w.,]\d|\d)",
    re.I,
)
_BEFORE_WORDS = ("before", "until", "till", "prior to", "earlier than")
# "joined before 2022", "hired after December 31, 2019": an open period on one side of the year
_BOUND = re.compile(
    r"\b(before|until|till|prior\s+to|earlier\s+than|after|since|later\s+than)"
    rf"(\s+((the\s+)?(end|start|beginning)\s+of\s+)?((\d{{1,2}}(st|nd|rd|th)?\s+)?({_MONTHS})\.?"
    r"(\s+\d{1,2}(st|nd|rd|th)?)?,?)?)?\s*$",
    re.I,
)
_NUMBER = re.compile(r"(?<![\w.])#?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w]|\.\d)(\s*%|\s+percent\b)?", re.I)
_NUMBERS_IN_WORDS = {"single": "1", "once": "1", "twice": "2"}
_COUNT_IN_WORDS = re.compile(
    r"\b(?:a|one)\s+(single)\b|\b(?:only|just|exactly|than)\s+(once|twice)\b|\b(twice)\b", re.I
)
_DAY_OF_MONTH = re.compile(
    rf"\b\d{{1,2}}(st|nd|rd|th)?\s+(of\s+)?({_MONTHS})\b|\b({_MONTHS})\.?\s+\d{{1,2}}(st|nd|rd|th)?\b", re.I
)
_QUARTER = re.compile(r"\b[qh][1-4]\b", re.I)
_PARENTHESES = re.compile(r"\([^()]*\)")
_MEDIAN = re.compile(r"\b(median|percentiles?|quartiles?|deciles?)\b", re.I)
_NEGATION = re.compile(
    r"\b(never|without|excluding|except|none|no|not|didn't|did\s+not|don't|do\s+not|doesn't|does\s+not|"
    r"haven't|have\s+not|hasn't|has\s+not|isn't|aren't|wasn't|weren't|other\s+than)\b",
    re.I,
)
# "do not have more than 3": a negated comparison is the opposite comparison, not a negation in SQL
_NEGATED_COMPARISON = re.compile(
    r"(\s+\w+){0,2}?\s+(more|less|fewer|greater|larger|smaller|higher|lower|over|under|above|below|exceed\w*)\b",
    re.I,
)
_DIVISION = re.compile(
    r"\b(share|shares|percentage|percent|proportion|fraction|ratio|rate|rates|grow|grew|grown|growth|"
    r"divided\s+by)\b|%",
    re.I,
)
_SHARE_OF = re.compile(
    r"\b(?:share|percentage|percent|proportion|fraction)\s+of\s+(?:(?:our|the|all)\s+)?"
    r"([a-z][a-z_-]*(?:\s+[a-z][a-z_-]*)?)",
    re.I,
)
_EXTREME = re.compile(
    r"\b(first|earliest|oldest|last|latest|most\s+recent|newest|longest[-\s]tenured)\b"
    # "the last three months", "first half": a period, not the first or last one
    r"(?!\s+((\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+)?"
    r"(half|halves|quarters?|years?|months?|weeks?|days?|\d|names?)\b)"
    # "which subcategory gets the highest ...": one row, the extreme one (a number after it is a top N)
    r"|(?<!\bat\s)\b(most|highest|largest|biggest|greatest|lowest|least|fewest|smallest|longest|shortest|best|worst)\b"
    r"(?!\s+(\d|one|two|three|four|five|ten)\b)",
    re.I,
)
_COUNTED = re.compile(
    r"\b(?:how\s+many|number\s+of|count\s+of|count\s+the)\s+(?:(?:of\s+)?(?:our|the|all|different|distinct|"
    r"unique|separate|individual)\s+)*([a-z][a-z_-]*(?:\s+[a-z][a-z_-]*)?)",
    re.I,
)
_HEADCOUNT = re.compile(r"\b([a-z][a-z_-]*(?:\s+[a-z][a-z_-]*)?)\s+(?:headcount|head\s+count|count)\b", re.I)
_LIST = re.compile(
    r"^\s*(please\s+)?(list|pull\s+up|show\s+(me\s+)?(all|every|each))\b|\b(list\s+(all|every|the)|"
    r"pull\s+up|give\s+me\s+(their|the|its)\s+(names?|details|dates?))\b|\bwhat'?s\s+on\b",
    re.I,
)
_COUNT_WORDS = re.compile(
    r"\b(how\s+many|how\s+much|number\s+of|count\s+of|counts|total|sum|average|avg|mean|median|share|"
    r"rate|ratio|percent|percentage|top|bottom|maximum|minimum|max|min)\b",
    re.I,
)
# A question that asks for a count, and words that ask for one per group instead.
_COUNT_QUESTION = re.compile(
    r"^\s*(?:how\s+many|(?:what\s+is|what's|tell\s+me)\s+the\s+(?:total\s+)?number\s+of|count\s+the)\b", re.I
)
_GROUP_WORDS = re.compile(r"\b(?:per|by|each|every|respectively)\b", re.I)
_GRAIN = re.compile(
    r"\b(?:per|by|each|every|a)\s+(day|week|month|quarter|year)\b|\b(daily|weekly|monthly|quarterly|yearly|annually)\b",
    re.I,
)
_GRAIN_NAMES = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter", "yearly": "year",
                "annually": "year"}  # fmt: skip
_WEEKDAY = re.compile(rf"\b(weekdays?|day\s+of\s+(the\s+)?week|days\s+of\s+the\s+week|{_WEEKDAYS})\b", re.I)
_MONTH_OF_YEAR = re.compile(r"\b(calendar\s+months?|months?\s+of\s+(the\s+)?year)\b", re.I)
# A proper name: capitalised words (and a number that belongs to them, "WorkMate 15"), or a quoted text.
_NAME = re.compile(r"\b[A-Z][\w'&.-]*[\w](?:\s+(?:[A-Z][\w'&.-]*[\w]|\d+\b))*")
_QUOTED = re.compile(r"[\"“]([^\"”]{2,60})[\"”]|(?<!\w)'([^']{2,60})'(?!\w)")
_SENTENCE_START = re.compile(r"(^|[.?!:;]\s+|\n)\s*$")
_NOT_NAMES = re.compile(rf"^({_MONTHS}|{_WEEKDAYS}|i|i'm|i'd|q[1-4]|h[1-2]|ok|okay)$", re.I)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def proper_names(question: str, vocabulary: set[str]) -> list[str]:
    """Capitalised names and quoted texts of a question that are not its first word, a month or a word of
    the schema's own vocabulary: most likely values stored in a column (a customer, a product)."""
    names: list[str] = []
    for match in _QUOTED.finditer(question):
        names.append((match.group(1) or match.group(2)).strip())
    unquoted = _mask(question, (m.span() for m in _QUOTED.finditer(question)))
    for match in _NAME.finditer(unquoted):
        words = match.group(0).split()
        if _SENTENCE_START.search(unquoted[: match.start()]):
            words = words[1:]  # "Show ...", "Which ...": capitalised for the sentence, not a name
        while words and (_NOT_NAMES.match(words[0]) or words[0].isupper() or words[0].isdigit()):
            words = words[1:]
        while words and ((words[-1].isupper() and len(words[-1]) > 1) or _NOT_NAMES.match(words[-1])):
            words = words[:-1]
        name = re.sub(r"'s$", "", " ".join(words))
        if len(name) < 2 or name.isupper():
            continue
        if all(word in vocabulary for word in name_words(name)):
            continue  # "Revenue", "Orders": the schema's own words, not a stored value
        names.append(name)
    return list(dict.fromkeys(names))


_WORD = re.compile(r"[A-Za-z0-9]+")


def phrase_spans(question: str, phrases: Iterable[str]) -> list[tuple[int, int]]:
    """Where the question says one of ``phrases`` (compared word by word, stemmed: "line 1" for the
    column line_1, "cylinders" for cylinder)."""
    tokens = [(m.start(), m.end(), name_words(m.group(0))) for m in _WORD.finditer(question)]
    stems = [words[0] if words else "" for _, _, words in tokens]
    spans = []
    for phrase in phrases:
        wanted = name_words(phrase)
        size = len(wanted)
        if not size:
            continue
        for index in range(len(stems) - size + 1):
            if stems[index : index + size] == wanted:
                spans.append((tokens[index][0], tokens[index + size - 1][1]))
    return spans


def schema_phrases(schema: SchemaView) -> list[str]:
    """The schema's column names and synonyms, as a question would say them."""
    return [p for t in schema.tables for c in t.columns for p in (c.name, *c.synonyms)]


def schema_vocabulary(schema: SchemaView) -> set[str]:
    """The stemmed words of the schema's table and column names (and their synonyms)."""
    found: set[str] = set()
    for table in schema.tables:
        found |= set(name_words(table.name))
        for column in table.columns:
            found |= set(name_words(column.name))
            for synonym in column.synonyms:
                found |= set(name_words(synonym))
    return found


# "One row per order line; ...": the grain a table's description states names the entity of its rows.
_GRAIN_DESCRIBED = re.compile(
    r"^\s*(?:one|a|each)\s+row\s+(?:per|for\s+each|for\s+every)\s+(?:an?\s+)?([a-z][a-z\s_-]*)", re.I
)


def _described_grain(table: TableInfo) -> list[str]:
    """The stemmed words of the entity a table's description says it holds one row per ("order line").

    >>> _described_grain(TableInfo("order_items", [], "One row per order line; an order has 1 to 5."))
    ['order', 'line']
    """
    match = _GRAIN_DESCRIBED.match(table.description or "")
    return name_words(match.group(1)) if match else []


def _counted_table(phrase: str, schema: SchemaView) -> str | None:
    """The table a noun phrase names: the entity its description holds one row per ("order lines" for
    order_items), else the table whose name's last word is the phrase's last word ("sales reps",
    "customers") or first word ("orders consist of ...")."""
    words = [w for w in name_words(phrase) if w]
    if not words:
        return None
    described = [t.name for t in schema.tables if _described_grain(t) == words]
    if len(described) == 1:
        return described[0]
    for candidate in (words[-1], words[0]) if len(words) > 1 else (words[0],):
        owners = [t.name for t in schema.tables if name_words(t.name) and name_words(t.name)[-1] == candidate]
        if len(owners) == 1:
            return owners[0]
    return None


_GROUPING = re.compile(
    r"\b(?:(\w+)\s+)?(?:per|by|for\s+each|for\s+every)\s+(?:each\s+|every\s+|the\s+|their\s+|its\s+)?([a-z]\w*)\b(?!\s+of\b)",
    re.I,
)
# "sorted by price", "divided by list price": an order or an operation, not groups
_NOT_GROUPING = frozenset(
    ["order", "ordered", "sort", "sorted", "rank", "ranked", "divided", "multiplied", "followed", "weighted"]
)


def _groupings(question: str, schema: SchemaView, facts: list[Fact]) -> list[Fact]:
    """The groups the question asks one row each for, named by a text column ("per channel", "by region"):
    not an entity ("per customer" may be a total per customer, see PER_ENTITY), not a period (GRAIN).

    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema("CREATE TABLE orders (order_id INT PRIMARY KEY, channel VARCHAR, amount INT)")
    >>> [f.value for f in _groupings("Total amount per channel, sorted by amount", shop, [])]
    ['channel']
    """
    nouns = {name_words(t.name)[-1] for t in schema.tables if name_words(t.name)}
    # groups are named by text columns: "by units" names the quantity, "for each line" the rows
    columns = {
        w
        for t in schema.tables
        for c in t.columns
        if is_text(duckdb_type(c.data_type, "duckdb"))
        for w in name_words(c.name)
    }
    taken = {f.value for f in facts if f.kind in (GRAIN, PER_ENTITY)}
    found = []
    for match in _GROUPING.finditer(question):
        if (match.group(1) or "").lower() in _NOT_GROUPING:
            continue
        words = name_words(match.group(2))
        word = words[0] if words else ""
        if word in columns and word not in nouns and word not in _TIME_WORDS and word not in taken:
            found.append(Fact(GROUPING, match.group(2).lower(), word))
    return found


_FIELD_LIST = re.compile(r"[:?]\s*(?P<fields>[^:?]*\w[^:?]*)$")


def _fields_listed(question: str, schema: SchemaView) -> list[Fact]:
    """The columns a list question asks to see, named after a colon or its question mark ("every order
    of Kenji Suzuki: order date, channel and status"); the longest name wins where names overlap.

    >>> from analytics_chat.engine.repairs.ddl import schema
    >>> shop = schema("CREATE TABLE item (item_id INT, name VARCHAR, unit_price DOUBLE, colour VARCHAR)")
    >>> [f.value for f in _fields_listed("List the items: item name and unit price", shop)]
    ['name', 'unit_price']
    """
    listed = _FIELD_LIST.search(question)
    if listed is None:
        return []
    text = listed.group("fields")
    found: list[tuple[int, int, str]] = []
    for table in schema.tables:
        noun = " ".join(name_words(table.name)[-1:])
        for column in table.columns:
            phrases = [column.name, f"{noun} {column.name}", *column.synonyms]
            found += [(start, end, column.name) for start, end in phrase_spans(text, phrases)]
    found.sort(key=lambda span: (span[0] - span[1], span[0]))
    taken: list[tuple[int, int]] = []
    facts = []
    for start, end, column in found:
        if not any(start < e and s < end for s, e in taken):
            taken.append((start, end))
            facts.append((start, Fact(FIELD, text[start:end].lower(), column)))
    return [fact for _, fact in sorted(facts, key=lambda item: item[0])]


def _shows_column(tree: exp.Expression, name: str) -> bool:
    """The outermost SELECT shows a column called ``name`` (or all columns)."""
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is None:
        return False
    return any(isinstance(p, exp.Star) for p in select.expressions) or any(
        column.name.lower() == name.lower() for p in select.expressions for column in p.find_all(exp.Column)
    )


_TIME_WORDS = frozenset(["day", "week", "month", "quarter", "year", "date", "time", "hour", "weekday"])


def _groups_by(tree: exp.Expression, word: str) -> bool:
    """One row per value of a column named ``word``: it is grouped, partitioned, ordered or listed."""

    def named(node: exp.Expression) -> bool:
        return any(word in name_words(column.name) for column in node.find_all(exp.Column))

    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        keys = [positional(e, select) for e in group.expressions] if group else []
        keys += [positional(o.this, select) for o in (select.args.get("order") or exp.Order()).expressions]
        if select.args.get("distinct") or not any(e.find(exp.AggFunc) for e in select.expressions):
            keys += select.expressions
        if any(named(key) for key in keys):
            return True
    return any(named(window) for window in tree.find_all(exp.Window))


class NamedMetric(NamedTuple):
    """A business metric a question names, with what its definition needs (:func:`metric_needs`)."""

    name: str
    label: str
    needs: Sequence[str]
    definition: str = ""  # "SUM(...) over rows where orders.status = 'completed'"


def entity_nouns(tables: Iterable[str]) -> dict[str, str]:
    """The last word of each table's name ("rep" for sales_reps), where only one of the tables ends so.

    >>> entity_nouns(["sales_reps", "customers", "order_items", "line_items"])
    {'rep': 'sales_reps', 'customer': 'customers'}
    """
    owners: dict[str, list[str]] = {}
    for table in tables:
        words = name_words(table)
        if words:
            owners.setdefault(words[-1], []).append(table)
    return {word: found[0] for word, found in owners.items() if len(found) == 1}


_EACH = frozenset(["per", "each", "every"])


def entity_after_each(question: str, nouns: dict[str, str], field_words: set[str]) -> str | None:
    """The table named (with at most one word between) after "per", "each" or "every", unless a field
    word follows it: "per sales rep" and "each paying customer" name an entity, "per customer segment"
    is a breakdown by segment.

    >>> nouns = {"customer": "customers", "rep": "sales_reps"}
    >>> entity_after_each("Average spend per customer, by region", nouns, {"segment", "region"})
    'customers'
    >>> entity_after_each("Average spend per customer segment", nouns, {"segment"}) is None
    True
    """
    for clause in re.split(r"[,.;:?!()]", question.lower()):
        words = [name_words(w)[0] if name_words(w) else w for w in re.findall(r"[a-z0-9']+", clause)]
        for index, word in enumerate(words):
            if word not in _EACH:
                continue
            for position in (index + 1, index + 2):
                if position < len(words) and words[position] in nouns:
                    following = words[position + 1] if position + 1 < len(words) else ""
                    if following not in field_words or following in nouns:
                        return nouns[words[position]]
                    break
    return None


def _totals_entity(text: str, schema: SchemaView, vocabulary: set[str], facts: list[Fact]) -> Fact | None:
    """An average, median or percentile of per-entity totals: "average revenue per customer", or a
    median or percentile where the question names one entity only ("median order value")."""
    percentile = any(f.kind == PERCENTILE for f in facts)
    if not percentile and not any(f.kind == AVERAGE for f in facts):
        return None
    keys = {t.name: [c.name for c in t.columns if c.is_primary_key] for t in schema.tables}
    entities = {table: columns[0] for table, columns in keys.items() if len(columns) == 1}
    nouns = entity_nouns(entities)
    table = entity_after_each(text, nouns, vocabulary)
    if table is None and percentile:
        named = {nouns[word] for word in name_words(text) if word in nouns}
        table = named.pop() if len(named) == 1 else None
    if table is None:
        return None
    noun = next(word for word, owner in nouns.items() if owner == table)
    return Fact(PER_ENTITY, noun, table, column=entities[table])


def question_facts(
    question: str,
    schema: SchemaView,
    values: Sequence[ValueMatch] | None = None,
    masked: Sequence[str] = (),
    metrics: Sequence[NamedMetric | tuple[str, str, Sequence[str]]] = (),
) -> list[Fact]:
    """What a question states that any plan answering it must contain.

    ``masked``: phrases of the question that a vocabulary item names (a metric such as "return rate" or
    "average order value"): their aggregate words are the item's business, not a separate statement.
    ``metrics``: the business metrics the question names, (name, label, what its definition needs: the
    columns it sums and the values its filter picks), see :func:`metric_needs`.
    """
    facts: list[Fact] = []
    text = question
    vocabulary = schema_vocabulary(schema)
    values = match_values(question, schema) if values is None else values
    for match in values:
        if not any(f.value == match.value for f in facts):
            facts.append(
                Fact(VALUE, match.value, match.value, column=f"{match.table}.{match.column}".lower())
            )
    for name in proper_names(question, vocabulary):
        if not any(name.lower() in v.lower() or v.lower() in name.lower() for v in (f.value for f in facts)):
            facts.append(Fact(VALUE, name, name))

    # Numbers: years, percentiles and the numbers of dates, quarters and names are read apart.
    skip = [m.span() for m in _DAY_OF_MONTH.finditer(text)] + [m.span() for m in _QUARTER.finditer(text)]
    skip += [m.span() for m in _PARENTHESES.finditer(text)]
    skip += phrase_spans(text, schema_phrases(schema))
    for fact in facts:
        position = text.find(fact.value)
        if position >= 0:
            skip.append((position, position + len(fact.value)))
    for match in PERCENTILE_WORDS.finditer(text):
        for group in (1, 2):
            if match.group(group):
                facts.append(Fact(PERCENTILE, f"{match.group(group)}th percentile", match.group(group)))
        skip.append(match.span())
    for match in _YEAR_RANGE.finditer(_mask(text, skip)):
        facts.append(Fact(YEAR_RANGE, match.group(0).strip(), f"{match.group(1)}-{match.group(2)}"))
        skip.append(match.span())
    numbers_text = _mask(text, skip)
    for match in _YEAR.finditer(numbers_text):
        before = numbers_text[: match.start()].rstrip().lower()
        if not re.search(r"(#|\bid|\bnumber|\bno\.?)$", before):
            bound = _BOUND.search(before)
            side = "" if bound is None else ("<" if bound.group(1) in _BEFORE_WORDS else ">")
            facts.append(Fact(YEAR, match.group(1), match.group(1) + side))
            skip.append(match.span())
    numbers_text = _mask(text, skip)
    for match in _NUMBER.finditer(numbers_text):
        value = _number(match.group(1))
        if value is None:
            continue
        shown = match.group(0).strip()
        facts.append(Fact(NUMBER, shown, f"{value}{'%' if match.group(2) else ''}"))
    # "orders of a single line", "customers who ordered only once": a count compared with a number in words
    for match in _COUNT_IN_WORDS.finditer(numbers_text):
        word = next(group for group in match.groups() if group)
        facts.append(Fact(TIMES, match.group(0), _NUMBERS_IN_WORDS[word.lower()]))

    # "the percentage column", "line 1", "discount rate": a column's name says an aggregate word, not the question
    plain = _mask(text, phrase_spans(text, [*masked, *schema_phrases(schema)]))
    negation = _NEGATION.search(plain)
    if negation and not _NEGATED_COMPARISON.match(plain[negation.end() :]):
        facts.append(Fact(NEGATION, negation.group(0)))
    if _MEDIAN.search(plain) and not any(f.kind == PERCENTILE for f in facts):
        facts.append(Fact(PERCENTILE, _MEDIAN.search(plain).group(0).lower()))  # type: ignore[union-attr]
    division = _DIVISION.search(plain)
    if division:
        facts.append(Fact(DIVISION, division.group(0).lower()))
    for match in _SHARE_OF.finditer(text):
        table = _counted_table(match.group(1), schema)
        if table:
            qualifier = _qualifying_column(match.group(1), schema.table(table))
            facts.append(Fact(SHARE_OF, match.group(1).lower(), table, column=qualifier))
            break
    average = AVERAGE_WORDS.search(plain)
    if average and not division:
        facts.append(Fact(AVERAGE, average.group(0).lower()))
    per_entity = _totals_entity(text, schema, vocabulary, facts)
    if per_entity:
        facts.append(per_entity)
    extreme = _EXTREME.search(plain)
    if extreme:
        facts.append(Fact(EXTREME, extreme.group(0).lower()))
    for pattern in (_COUNTED, _HEADCOUNT):
        for match in pattern.finditer(text):
            table = _counted_table(match.group(1), schema)
            if table:
                facts.append(Fact(ENTITY, table, table))
                break
    if _LIST.search(question) and not _COUNT_WORDS.search(question):
        facts.append(Fact(ROWS, "list"))
        facts += _fields_listed(question, schema)
    if _WEEKDAY.search(plain):
        facts.append(Fact(WEEKDAY, "weekday"))
    elif _MONTH_OF_YEAR.search(plain):
        facts.append(Fact(MONTH_OF_YEAR, "calendar month"))
    else:
        grain = _GRAIN.search(plain)
        if grain:
            word = next(g for g in grain.groups() if g).lower()
            facts.append(Fact(GRAIN, _GRAIN_NAMES.get(word, word)))
    facts += _groupings(question, schema, facts)
    if _COUNT_QUESTION.match(question) and not _GROUP_WORDS.search(question):
        facts.append(Fact(ONE_FIGURE, "how many"))
    for metric in map(lambda m: NamedMetric(*m), metrics):
        if metric.needs:  # a count's definition is the entity check's business
            facts.append(
                Fact(
                    METRIC, metric.label, metric.name, needs=tuple(metric.needs), definition=metric.definition
                )
            )
    return list(dict.fromkeys(facts))


# --- the plan's side: what a SQL AST contains ---------------------------------------------------------

_PERCENTILE_FUNCTIONS = {
    "quantile", "quantile_cont", "quantile_disc", "percentile_cont", "percentile_disc", "median",
    "approx_quantile", "percentile", "approx_percentile",
}  # fmt: skip
_WEEKDAY_FUNCTIONS = {"dayname", "dayofweek", "isodow", "dow", "weekday", "day_of_week"}
_WEEKDAY_FORMATS = re.compile(r"%[aAwu]")
_MONTH_FORMATS = re.compile(r"%[mbB]")


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else ""


def _literals(tree: exp.Expression) -> tuple[list[Decimal], list[str]]:
    numbers: list[Decimal] = []
    strings: list[str] = []
    for literal in tree.find_all(exp.Literal):
        if literal.is_string:
            strings.append(literal.this)
        else:
            value = _number(literal.this)
            if value is not None:
                numbers.append(value)
    return numbers, strings


def _has_number(value: str, numbers: list[Decimal], strings: list[str]) -> bool:
    percent = value.endswith("%")
    wanted = _number(value.rstrip("%"))
    if wanted is None:
        return True
    targets = {wanted, wanted / 100} if percent else {wanted}
    if any(number in targets for number in numbers):
        return True
    # "WorkMate 15" or "#20420" may sit inside a text literal; 2 days may read 2.0
    return any(re.search(rf"(?<!\d){re.escape(str(wanted))}(?!\d)", s) for s in strings)


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _compares_count(tree: exp.Expression, value: str) -> bool:
    """A count (``COUNT(...)``, or a column named after one) compared with the number: "orders of a single
    line" is ``HAVING COUNT(*) = 1``, not ``line_no = 1``.

    >>> _compares_count(sqlglot.parse_one("SELECT o FROM t GROUP BY o HAVING COUNT(*) = 1"), "1")
    True
    >>> _compares_count(sqlglot.parse_one("SELECT COUNT(*) FROM t WHERE line_no = 1"), "1")
    False
    """
    wanted = _number(value)
    counted = {
        alias.alias.lower() for alias in tree.find_all(exp.Alias) if alias.this.find(exp.Count) is not None
    }

    def is_count(side: exp.Expression) -> bool:
        if side.find(exp.Count) is not None:
            return True
        return any(column.name.lower() in counted for column in side.find_all(exp.Column))

    def is_wanted(side: exp.Expression) -> bool:
        return isinstance(side, exp.Literal) and not side.is_string and _number(side.this) == wanted

    return any(
        (is_wanted(comparison.expression) and is_count(comparison.this))
        or (is_wanted(comparison.this) and is_count(comparison.expression))
        for comparison in tree.find_all(*_COMPARISONS)
    )


def _has_year(year: str, numbers: list[Decimal], strings: list[str], end: str = "either") -> bool:
    """A year in a comparison, a date of that year, or a bound just outside it: the exclusive end of a
    year ("< 2026-01-01") or the day before its start ("> 2019-12-31"). ``end``: the year is the start
    or the end of a range, so only the bound on that side counts."""
    value = int(year)
    if Decimal(value) in numbers:
        return True
    for text in strings:
        if text == year or text.startswith(f"{year}-") or text.startswith(f"{year}/"):
            return True
        if end in ("either", "last") and text.startswith(f"{value + 1}-01-01"):
            return True
        if end in ("either", "first") and text.startswith(f"{value - 1}-12-31"):
            return True
    return False


def _has_value(value: str, numbers: list[Decimal], strings: list[str]) -> bool:
    wanted = value.lower().strip()
    as_number = _number(wanted) if re.fullmatch(r"-?\d+(\.\d+)?", wanted) else None
    if as_number is not None and as_number in numbers:
        return True  # a stored "2014" compared as the number 2014
    for text in strings:
        text = text.lower().strip("% ")
        if text and (wanted in text or text in wanted) and len(text) >= min(3, len(wanted)):
            return True
    return False


def _bounded(tree: exp.Expression, value: str) -> bool:
    """ "before 2022" compares with < (or <=), "after 2019" with > (or >=), on that year's bound, and is
    not bounded on the other side by the same year ("before 2022" read as the first day of 2022)."""
    if not value.endswith(("<", ">")):
        return True
    year, side = value[:-1], value[-1]
    near = (year, str(int(year) - 1), str(int(year) + 1))
    found, closed = False, False
    for node in tree.find_all(exp.LT, exp.LTE, exp.GT, exp.GTE):
        upper = isinstance(node, (exp.LT, exp.LTE))  # column < literal: an upper bound
        for literal, is_upper in (
            (node.expression.find(exp.Literal), upper),
            (node.this.find(exp.Literal), not upper),
        ):
            if literal is None or literal.this[:4] not in near:
                continue
            if is_upper == (side == "<"):
                found = True
            else:
                closed = True
    return found and not closed


def _has_date_filter(tree: exp.Expression, strings: list[str]) -> bool:
    if any(re.match(r"^(19|20)\d{2}(-|$)", s) for s in strings):
        return True
    return any(isinstance(node, (exp.Year, exp.Between)) for node in tree.find_all(exp.Year, exp.Between))


def _has_negation(tree: exp.Expression) -> bool:
    if any(tree.find_all(exp.Not, exp.NEQ, exp.Except)):
        return True
    for node in tree.find_all(exp.Is):
        if isinstance(node.expression, exp.Null):
            return True
    for node in tree.find_all(exp.EQ, exp.LTE, exp.LT):
        sides = (node.this, node.expression)
        if any(isinstance(s, exp.Literal) and s.this in ("0", "0.0") for s in sides) and any(
            s.find(exp.Count) for s in sides
        ):
            return True
    return False


def _has_percentile(tree: exp.Expression, wanted: str) -> bool:
    for node in tree.find_all(exp.Func):
        name = _function_name(node)
        if isinstance(node, (exp.Median, exp.Quantile, exp.PercentileCont, exp.PercentileDisc)) or (
            name in _PERCENTILE_FUNCTIONS
        ):
            if not wanted:
                return True
            numbers, _ = _literals(node)
            share = Decimal(wanted) / 100
            if share in numbers or (share == Decimal("0.5") and "median" in name):
                return True
    return False


def _has_average(tree: exp.Expression) -> bool:
    return bool(tree.find(exp.Avg) or tree.find(exp.Div)) or any(
        _function_name(n) in ("mean", "avg") for n in tree.find_all(exp.Anonymous)
    )


def _has_extreme(tree: exp.Expression) -> bool:
    if tree.find(exp.Min) or tree.find(exp.Max) or tree.find(exp.ArgMax) or tree.find(exp.ArgMin):
        return True
    return any(select.args.get("order") and select.args.get("limit") for select in tree.find_all(exp.Select))


def _key_columns(table: str, schema: SchemaView) -> set[tuple[str, str]]:
    """(table, column) pairs that identify a row of ``table``: its key, and columns referencing it."""
    info = schema.table(table)
    keys = {(table.lower(), c.name.lower()) for c in (info.columns if info else []) if c.is_primary_key}
    for join in schema.joins:
        if join.to_table.lower() == table.lower():
            keys.add((join.from_table.lower(), join.from_column.lower()))
        if join.from_table.lower() == table.lower():
            keys.add((join.to_table.lower(), join.to_column.lower()))
    return keys


def _table_of(column: exp.Column, select: exp.Select | None) -> str:
    alias = column.table.lower()
    if select is not None:
        for table in select.find_all(exp.Table):
            if table.alias_or_name.lower() == alias or (not alias and table.parent_select is select):
                return table.name.lower()
    return alias


def _counts_entity(tree: exp.Expression, table: str, schema: SchemaView) -> bool:
    keys = _key_columns(table, schema)
    key_names = {column for _, column in keys}
    related = {t for t, _ in keys} | {table.lower()}
    for count in tree.find_all(exp.Count):
        argument = count.this
        if isinstance(argument, exp.Distinct):
            argument = argument.expressions[0] if argument.expressions else None
        select = count.parent_select
        if isinstance(argument, exp.Column):
            owner = _table_of(argument, select)
            if (owner, argument.name.lower()) in keys or argument.name.lower() in key_names:
                return True
            if _identifies_another(owner, argument.name, table, schema):
                continue  # COUNT(DISTINCT orders.order_id) counts orders, whatever table it reads
        # COUNT(*) or COUNT(column): the rows of the entity's own table, or of a table whose rows each name one
        # ("the largest number of countries" counts the rows of countrylanguage per language)
        if select is None:
            continue
        tables = {t.name.lower() for t in select.find_all(exp.Table)}
        if tables & related:
            return True
    return False


def _qualifying_column(phrase: str, table: TableInfo | None) -> str:
    """The column of the entity's table that a participle before it names ("shipped orders": ship_date), or "".

    >>> from analytics_chat.engine.linking import ColumnInfo
    >>> _qualifying_column("shipped orders", TableInfo("orders", [ColumnInfo("ship_date", "DATE")]))
    'ship_date'
    """
    if table is None:
        return ""
    for word in name_words(phrase)[:-1]:
        if not word.endswith("ed"):
            continue
        for column in table.columns:
            if any(len(part) >= 4 and word.startswith(part) for part in name_words(column.name)):
                return column.name
    return ""


def _restricts_by(tree: exp.Expression, column: str) -> bool:
    """The rows are restricted by the column for the whole figure: in a WHERE, HAVING or FILTER, or in the
    denominator of a division (not only in the numerator's condition)."""
    clauses = [
        *tree.find_all(exp.Where, exp.Having, exp.Filter),
        *(d.expression for d in tree.find_all(exp.Div)),
    ]
    return any(c.name.lower() == column.lower() for clause in clauses for c in clause.find_all(exp.Column))


def _share_of(tree: exp.Expression, table: str, schema: SchemaView, qualifier: str = "") -> bool:
    """A share of an entity's rows: a division by a count of them, or an average of a condition over them
    ("order lines priced above list": not the lines over the units sold, ``SUM(quantity)``), over only the
    rows the question qualifies ("shipped orders": those with a ship date)."""
    if qualifier and not _restricts_by(tree, qualifier):
        return False
    if any(_counts_entity(division.expression, table, schema) for division in tree.find_all(exp.Div)):
        return True
    related = {t for t, _ in _key_columns(table, schema)} | {table.lower()}
    return any(
        isinstance(average.this, (exp.Case, exp.If))
        and average.parent_select is not None
        and bool({t.name.lower() for t in average.parent_select.find_all(exp.Table)} & related)
        for average in tree.find_all(exp.Avg)
    )


def _identifies_another(owner: str, column: str, table: str, schema: SchemaView) -> bool:
    """The column is the key of another table than ``table``, or refers to one: counting it counts those."""
    info = schema.table(owner)
    named = info.column(column) if info else None
    if named is not None and named.is_primary_key and owner.lower() != table.lower():
        return True
    return any(
        j.from_table.lower() == owner.lower()
        and j.from_column.lower() == column.lower()
        and j.to_table.lower() != table.lower()
        for j in schema.joins
    )


def _one_row(tree: exp.Expression) -> bool:
    """The outer query gives one row: no GROUP BY, or only the first group (``LIMIT 1``)."""
    if not isinstance(tree, exp.Select):
        return True  # a UNION or the like: not for this check
    limit = tree.args.get("limit")
    first = limit is not None and _number(str(getattr(limit.expression, "this", ""))) == 1
    return not tree.args.get("group") or first


def _returns_rows(tree: exp.Expression) -> bool:
    """A list: the outer SELECT shows row columns (a count beside them may stay: "the owner with the most
    dogs, list the id and name"). A plan of metrics by dimensions is no list: the semantic path is not
    asked (``engine.answer``)."""
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is None:
        return False
    return any(not projection.find(exp.AggFunc) for projection in select.expressions)


def _has_weekday(tree: exp.Expression) -> bool:
    for node in tree.find_all(exp.Func):
        if isinstance(node, (exp.DayOfWeek, exp.DayOfWeekIso)) or _function_name(node) in _WEEKDAY_FUNCTIONS:
            return True
        if (isinstance(node, exp.Extract) or _function_name(node) in ("date_part", "datepart")) and re.search(
            r"dow|week_?day|isodow", node.sql(), re.I
        ):
            return True
    _, strings = _literals(tree)
    return any(_WEEKDAY_FORMATS.search(s) for s in strings)


def _has_month_of_year(tree: exp.Expression) -> bool:
    if tree.find(exp.Month):
        return True
    for node in tree.find_all(exp.Func):
        if (isinstance(node, exp.Extract) or _function_name(node) in ("date_part", "datepart")) and re.search(
            r"month", node.sql(), re.I
        ):
            return True
    _, strings = _literals(tree)
    return any(_MONTH_FORMATS.search(s) for s in strings)


_TIME_FUNCTIONS = (
    exp.DateTrunc,
    exp.TimestampTrunc,
    exp.Year,
    exp.Month,
    exp.Quarter,
    exp.Week,
    exp.Day,
    exp.Extract,
)


def _groups_by_time(tree: exp.Expression) -> bool:
    """One row per period: a GROUP BY (or a window) over a date truncated or cut into parts."""
    for group in tree.find_all(exp.Group, exp.Window):
        if any(group.find_all(*_TIME_FUNCTIONS)) or any(
            _function_name(f) in ("strftime", "date_part", "datepart", "dayname")
            for f in group.find_all(exp.Func)
        ):
            return True
    # GROUP BY an output alias or position of a truncated date
    for select in tree.find_all(exp.Select):
        if select.args.get("group") and any(p.find(*_TIME_FUNCTIONS) for p in select.expressions):
            return True
    return False


def positional(node: exp.Expression, select: exp.Select) -> exp.Expression:
    """``GROUP BY 1`` and ``ORDER BY 2`` mean the query's first and second output columns."""
    if isinstance(node, exp.Literal) and node.is_int and 0 < int(node.this) <= len(select.expressions):
        return select.expressions[int(node.this) - 1]
    return node


def _aggregates_per(tree: exp.Expression, table: str, key: str) -> bool:
    """An aggregate over rows of ``table`` itself, or over totals grouped by its key in a subquery."""

    def aggregates(select: exp.Select | None) -> bool:
        return select is not None and any(e.find(exp.AggFunc) for e in select.expressions)

    for select in tree.find_all(exp.Select):
        outer = select.parent_select if select.parent_select is not select else None
        source = select.args.get("from_")
        own_rows = source is not None and isinstance(source.this, exp.Table)
        if (
            own_rows
            and aggregates(select)
            and not aggregates(outer)
            and source.this.name.lower() == table.lower()
        ):
            return True
        group = select.args.get("group")
        grouped = [positional(e, select) for e in group.expressions] if group is not None else []
        keyed = any(c.name.lower() == key.lower() for e in grouped for c in e.find_all(exp.Column))
        if keyed and aggregates(outer):
            return True
    return False


def metric_needs(expression: str, filter_sql: str = "") -> list[str]:
    """What a plan must contain to compute a metric as defined: the columns its SUM or AVG adds up
    (".quantity"), and the values its definition picks ("completed"). A count is the entity check's."""
    needs: list[str] = []
    for snippet in (expression, filter_sql):
        if not snippet:
            continue
        try:
            tree = sqlglot.parse_one(snippet, read="duckdb")
        except sqlglot.errors.SqlglotError:
            continue
        for aggregate in tree.find_all(exp.Sum, exp.Avg):
            needs += [f".{c.name.lower()}" for c in aggregate.find_all(exp.Column)]
        needs += [literal.this for literal in tree.find_all(exp.Literal) if literal.is_string]
    return list(dict.fromkeys(needs))


def unaccounted(facts: Sequence[Fact], sql: str | exp.Expression, schema: SchemaView) -> list[Fact]:
    """The facts of the question that the plan's SQL leaves out (none: the plan answers the question)."""
    try:
        tree = sql if isinstance(sql, exp.Expression) else sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return list(facts)
    numbers, strings = _literals(tree)
    limits = [_number(str(limit.expression.this)) for limit in tree.find_all(exp.Limit) if limit.expression]
    numbers += [n for n in limits if n is not None]
    missing: list[Fact] = []
    for fact in facts:
        if fact.kind == NUMBER:
            ok = _has_number(fact.value, numbers, strings)
        elif fact.kind == YEAR:
            ok = _has_year(fact.value.rstrip("<>"), numbers, strings) and _bounded(tree, fact.value)
        elif fact.kind == YEAR_RANGE:
            first, last = fact.value.split("-")
            both = _has_year(first, numbers, strings, "first") and _has_year(last, numbers, strings, "last")
            # a range that a plan leaves unfiltered is the whole data ("2023 through 2025" of 2023-2025)
            ok = both or not _has_date_filter(tree, strings)
        elif fact.kind == VALUE:
            ok = _has_value(fact.value, numbers, strings)
        elif fact.kind == NEGATION:
            ok = _has_negation(tree)
        elif fact.kind == PERCENTILE:
            ok = _has_percentile(tree, fact.value)
        elif fact.kind == DIVISION:
            ok = bool(tree.find(exp.Div)) or any(
                isinstance(a.this, (exp.Case, exp.If)) for a in tree.find_all(exp.Avg)
            )
        elif fact.kind == AVERAGE:
            ok = _has_average(tree)
        elif fact.kind == EXTREME:
            ok = _has_extreme(tree)
        elif fact.kind == ENTITY:
            ok = _counts_entity(tree, fact.value, schema)
        elif fact.kind == ROWS:
            ok = _returns_rows(tree)
        elif fact.kind == WEEKDAY:
            ok = _has_weekday(tree)
        elif fact.kind == MONTH_OF_YEAR:
            ok = _has_month_of_year(tree)
        elif fact.kind == GRAIN:
            ok = _groups_by_time(tree)
        elif fact.kind == FIELD:
            ok = _shows_column(tree, fact.value)
        elif fact.kind == SHARE_OF:
            ok = _share_of(tree, fact.value, schema, fact.column)
        elif fact.kind == ONE_FIGURE:
            ok = _one_row(tree)
        elif fact.kind == TIMES:
            ok = _compares_count(tree, fact.value)
        elif fact.kind == GROUPING:
            ok = _groups_by(tree, fact.value)
        elif fact.kind == PER_ENTITY:
            ok = _aggregates_per(tree, fact.value, fact.column)
        elif fact.kind == METRIC:
            columns = {c.name.lower() for c in tree.find_all(exp.Column)}
            ok = all(
                need[1:] in columns if need.startswith(".") else _has_value(need, numbers, strings)
                for need in fact.needs
            )
        else:
            ok = True
        if not ok:
            missing.append(fact)
    return missing


# Statements a follow-up inherits from the turns before it unless it makes one of the same kind itself:
# "And in 2025?" keeps the customer, the metric and the top 10 of the question it follows.
_INHERITED = {
    NUMBER, TIMES, YEAR, YEAR_RANGE, NEGATION, PERCENTILE, DIVISION, AVERAGE, EXTREME, ENTITY, METRIC, PER_ENTITY,
}  # fmt: skip


def with_earlier_turns(facts: Sequence[Fact], earlier: Sequence[Sequence[Fact]]) -> list[Fact]:
    """The facts of a follow-up together with those of the earlier questions it builds on (newest first)
    that it does not replace: a stored value stays unless the follow-up names another of the same column,
    other kinds stay unless it states one of that kind ("in 2025" replaces "in 2024")."""
    merged = list(facts)
    for turn in earlier:
        kinds = {f.kind for f in merged} | (
            {YEAR, YEAR_RANGE} if {YEAR, YEAR_RANGE} & {f.kind for f in merged} else set()
        )
        columns = {f.column for f in merged if f.kind == VALUE and f.column}
        added = []
        for fact in turn:
            if fact.kind == VALUE:
                if (not fact.column or fact.column not in columns) and fact not in merged:
                    added.append(fact)
            elif fact.kind in _INHERITED and fact.kind not in kinds:
                added.append(fact)
        merged += added
    return list(dict.fromkeys(merged))


def describe_missing(missing: Sequence[Fact]) -> str:
    """'the number 42 and the year 2024' for an error message or a refusal."""
    parts = [fact.describe() for fact in missing]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# --- what the data knows nothing about ----------------------------------------------------------------

_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "our",
        "my",
        "your",
        "their",
        "its",
        "this",
        "that",
        "these",
        "those",
        "all",
        "any",
        "each",
        "every",
        "some",
        "much",
        "many",
        "did",
        "do",
        "does",
        "was",
        "were",
        "is",
        "are",
        "be",
        "been",
        "have",
        "has",
        "had",
        "we",
        "you",
        "they",
        "it",
        "i",
        "me",
        "us",
        "and",
        "or",
        "not",
        "no",
        "different",
        "distinct",
        "unique",
        "new",
        "current",
        "currently",
        "total",
        "overall",
        "average",
        "mean",
        "there",
        "what",
        "which",
        "who",
        "how",
        "when",
        "where",
        "why",
    ]
)
# Words that say how something is measured, not what: "the total number of people", "how many times".
_MEASURE_WORDS = frozenset(
    [
        "number",
        "numbers",
        "count",
        "counts",
        "amount",
        "amounts",
        "type",
        "types",
        "kind",
        "kinds",
        "sort",
        "sorts",
        "times",
        "level",
        "levels",
        "value",
        "values",
        "share",
        "percentage",
        "percent",
        "rate",
        "ratio",
        "sum",
    ]
)
# Where the measured noun phrase ends.
_PHRASE_END = frozenset(
    [
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "per",
        "than",
        "that",
        "who",
        "which",
        "where",
        "when",
        "is",
        "are",
        "was",
        "were",
        "like",
    ]
)
_MEASURED = re.compile(
    # "count" only as a noun ("the count of orders"): "Count the orders" names its object, "Count slowly" none
    r"\b(?:(?:average|mean|median|total|sum|number|amount|how\s+many|how\s+much)\s+(?:of\s+)?|count\s+of\s+)",
    re.I,
)
_WHAT_LIKE = re.compile(r"\bwhat\s+(?:was|is|were|are|'s)\s+(?:the|our)\s+(?=[a-z][\w'-]*\s+like\b)", re.I)
_MODIFIED = re.compile(r"\b([a-z][\w'-]*)\s+(?:rate|rates|ratio|score|scores)\b", re.I)
_PHRASE_WORD = re.compile(r"[A-Za-z][\w'-]*")
# "in stock at the warehouse?": a place or state the rows must be in, when the phrase ends there (at the
# end of the question, a comma, or the next preposition); "in ascending order", "at least 2", "in the
# nations that ..." go on, so they are no such phrase.
_CONDITION = re.compile(
    r"\b(?:in|at|inside)\s+(?:(?:the|our|a|an|your|my|their)\s+)?([a-z][\w'-]*)"
    r"(?=\s*(?:[?.!,;:)]|$|\b(?:in|at|on|for|during|from|right\s+now|today)\b))"
)
# Adverbial phrases and times of day or year, which say how or when, not where: "in general", "at night".
_NO_CONDITION = frozenset(
    ["general", "particular", "detail", "short", "full", "once", "present", "advance", "practice", "fact",
     "summary", "turn", "first", "last", "time", "all", "total", "weekend", "weekends", "morning", "afternoon",
     "evening", "night", "winter", "spring", "summer", "autumn", "fall", "words", "numbers", "percent"]
)  # fmt: skip
PREFIX = 5  # a word is known when a known word begins the same way ("cancellation", "cancelled")


def _known(word: str, vocabulary: set[str], prefixes: set[str]) -> bool:
    stemmed = name_words(word)
    if not stemmed:
        return True
    stem = stemmed[0]
    return stem in vocabulary or stem[:PREFIX] in prefixes or len(stem) < 3 or stem.isdigit()


def _measured_phrase(text: str) -> list[str]:
    """The content words of the noun phrase at the start of ``text`` (up to four words, to a preposition)."""
    words: list[str] = []
    for match in list(_PHRASE_WORD.finditer(text))[:4]:
        word = match.group(0)
        if word.lower() in _PHRASE_END:
            break
        if word.lower() in _FUNCTION_WORDS or word.lower() in _MEASURE_WORDS:
            continue
        if word[0].isupper() or _NOT_NAMES.match(word):
            return []  # a name ("how many Rain Jackets"): the value check answers for it
        words.append(word.lower())
    return words


def unknown_concepts(question: str, vocabulary: set[str]) -> list[str]:
    """What the question measures that no table, column, metric, description or stored value speaks of:
    "the average salary" of a schema without salaries, "the weather", "the conversion rate".

    Only the measured thing is looked at (the noun phrase after "average", "number of", "how many"; the
    word before "rate") and the place or state the rows must be in ("in stock", "at the warehouse"); it is
    unknown when none of its words is known, and a word counts as known when
    a known word starts the same way ("cancellation" beside "cancelled"), so a question about the data in
    other words is not turned away.
    """
    prefixes = {word[:PREFIX] for word in vocabulary if len(word) >= PREFIX}
    phrases = [_measured_phrase(question[m.end() :]) for m in _MEASURED.finditer(question)]
    phrases += [_measured_phrase(question[m.end() :]) for m in _WHAT_LIKE.finditer(question)]
    phrases += [
        [m.group(1).lower()]
        for m in _MODIFIED.finditer(question)
        if m.group(1).lower() not in _FUNCTION_WORDS
    ]
    phrases += [
        [m.group(1)]
        for m in _CONDITION.finditer(question)
        if m.group(1) not in _FUNCTION_WORDS | _NO_CONDITION | PRESENTATION_WORDS
    ]
    found: list[str] = []
    for phrase in phrases:
        if phrase and not any(_known(word, vocabulary, prefixes) for word in phrase):
            found += phrase
    return list(dict.fromkeys(found))
