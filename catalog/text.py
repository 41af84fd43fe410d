"""Words of names and questions, as the engine matches them: splitting, stemming and stopwords.

One splitter, one stemmer and named stopword sets. The callers match differently on purpose, so each has
its own function here: ``name_words`` and ``content_words`` for schema linking (camelCase split, plural
stems, stopwords dropped after stemming), ``search_words`` for context retrieval (plural and verb stems,
stopwords dropped before stemming), ``question_words`` for comparing two questions (no stems).

>>> name_words("carMakers"), name_words("Car Makers")
(['car', 'maker'], ['car', 'maker'])
>>> sorted(content_words("How many singers are there?"))
['singer']
>>> search_words("Orders shipped to the_customers")
['order', 'ship', 'customer']
>>> sorted(question_words("How many orders per customer?"))
['customer', 'orders']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL_CASE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class Suffix:
    """``ending`` becomes ``replacement`` in a word of at least ``min_length`` characters; ``undouble`` drops
    a doubled last consonant left behind (shipped -> shipp -> ship)."""

    ending: str
    replacement: str
    min_length: int
    undouble: bool = False


# Plurals are the common mismatch between a question and a name ("singers" vs singer).
PLURALS = (
    Suffix("ies", "y", 5),
    Suffix("ses", "s", 5),
    Suffix("xes", "x", 5),
    Suffix("ches", "ch", 5),
    Suffix("shes", "sh", 5),
    Suffix("ss", "ss", 0),
    Suffix("s", "", 4),
)
# Plurals and simple verb forms, for metric and dimension names ("shipped orders").
PLURALS_AND_VERB_ENDINGS = (
    Suffix("ies", "y", 6),
    Suffix("sses", "ss", 7),
    Suffix("ches", "ch", 7),
    Suffix("shes", "sh", 7),
    Suffix("xes", "x", 6),
    Suffix("ing", "", 6, undouble=True),
    Suffix("ed", "", 5, undouble=True),
    Suffix("ss", "ss", 5),
    Suffix("s", "", 4),
)

# Irregular verb forms a question uses where names and synonyms use the base form ("spent" for spend).
IRREGULAR_FORMS = {
    "spent": "spend",
    "sold": "sell",
    "bought": "buy",
    "paid": "pay",
    "grew": "grow",
    "grown": "grow",
}

# Words that name no table or column (compared with stemmed words).
SCHEMA_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "not",
        "no",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "all",
        "any",
        "each",
        "every",
        "list",
        "show",
        "give",
        "find",
        "tell",
        "me",
        "number",
        "count",
        "total",
        "average",
        "avg",
        "sum",
        "max",
        "min",
        "maximum",
        "minimum",
        "than",
        "more",
        "less",
        "most",
        "least",
        "their",
        "there",
        "that",
        "this",
        "these",
        "those",
        "its",
        "it",
        "as",
        "per",
        "id",
        "ids",
        "name",
        "names",
    ]
)
# Words that pick no metric, dimension or rule (compared before stemming).
SEARCH_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "did",
        "do",
        "does",
        "for",
        "from",
        "give",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "per",
        "show",
        "tell",
        "than",
        "that",
        "the",
        "their",
        "this",
        "to",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whose",
        "why",
        "with",
    ]
)
# Words two questions share without being about the same thing.
QUESTION_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "how",
        "in",
        "is",
        "it",
        "many",
        "me",
        "much",
        "of",
        "on",
        "or",
        "per",
        "show",
        "the",
        "to",
        "was",
        "were",
        "what",
        "which",
        "who",
        "with",
    ]
)


def words(text: str, *, camel_case: bool = False) -> list[str]:
    """The lower-cased runs of letters and digits; ``camel_case`` also splits ``carMakers`` at the capital."""
    if camel_case:
        text = _CAMEL_CASE.sub(" ", text)
    return _WORD.findall(text.lower())


def stem(word: str, suffixes: tuple[Suffix, ...] = PLURALS) -> str:
    """The word with the first of ``suffixes`` it ends in (and is long enough for) replaced.

    >>> stem("categories"), stem("boxes"), stem("class"), stem("shipped", PLURALS_AND_VERB_ENDINGS)
    ('category', 'box', 'class', 'ship')
    >>> stem("spent")
    'spend'
    """
    if word in IRREGULAR_FORMS:
        return IRREGULAR_FORMS[word]
    for suffix in suffixes:
        if word.endswith(suffix.ending) and len(word) >= suffix.min_length:
            word = word[: len(word) - len(suffix.ending)] + suffix.replacement
            if suffix.undouble and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    return word


def name_words(name: str) -> list[str]:
    """'carMakers', 'car_makers' and 'Car Makers' all give ['car', 'maker']."""
    return [stem(w) for w in words(name, camel_case=True)]


def content_words(text: str) -> set[str]:
    """The stemmed words of a text that can name a table or column (no stopwords)."""
    return {w for w in name_words(text) if w not in SCHEMA_STOPWORDS and len(w) > 1}


def search_words(text: str) -> list[str]:
    """The words of a text as context retrieval matches them: stopwords out, then plural and verb stems."""
    return [stem(w, PLURALS_AND_VERB_ENDINGS) for w in words(text) if w not in SEARCH_STOPWORDS]


def question_words(text: str) -> set[str]:
    """The words of a question, unstemmed, without the ones any two questions share."""
    return set(words(text)) - QUESTION_STOPWORDS
