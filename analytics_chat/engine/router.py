"""Route a question: does it want data, a description of the catalog, or a definition?

Rules rather than a model call: on two CPU cores every model call costs a second or more, and these
questions have a recognisable form. Which placeholders the answer carries follows from the route and
from words such as "chart" or "show me the SQL" (``presentation.charts.wanted_placeholders``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analytics_chat.pipeline import state as S

# Questions about the catalog itself: which tables, columns or kinds of information there are.
_CATALOG = re.compile(
    r"\b(what|which)\s+(data|tables?|datasets?|sources?|columns?|fields?|information)\b.*\b(have|ask|available|there|contain|hold|query|exist|keep|store)"
    r"|\bwhat\s+can\s+i\s+ask\b|\bdescribe\s+(the\s+)?(data|schema|tables?|database)\b|\blist\s+(the\s+|all\s+)?(tables|columns|datasets)\b"
    r"|\bshow\s+(me\s+)?(the\s+)?(schema|tables|catalog)\b"
    r"|\bis\s+there\s+(a|an|any)\s+(table|column|field|dataset)s?\b|\bwhat\s+(fields|columns|attributes)\b"
    r"|\bwhat\s+(kinds?|sorts?|types?)\s+of\s+(info|information|data|details)\b"
    r"|\b(info|information|data|details)\s+(do|does)\s+(you|we)\s+(keep|have|store|hold|track|record)\b",
    re.IGNORECASE,
)
# Questions about what a term means or how a figure is computed.
_DEFINITION = re.compile(
    r"\bhow\s+(exactly\s+)?(is|are|do\s+you|does\s+\w+)\s+.{0,60}?\b(calculated|computed|defined|measured|derived|counted|determined)\b"
    r"|\bwhat\s+(is|are)\s+the\s+definitions?\s+of\b|\bdefinition\s+of\b|\bhow\s+do\s+you\s+(define|calculate|compute|measure)\b"
    r"|\bwhat\s+does\s+.{1,40}\s+mean\b|\bwhen\s+you\s+say\b|\bwhat\s+counts\s+as\b"
    r"|\b(computed|calculated|measured|counted)\s+(on|over|from)\s+\w+\s+or\b|\b(goes?|go)\s+into\s+(it|that|this)\b",
    re.IGNORECASE,
)


@dataclass
class Route:
    intent: str
    wants: set[str] = field(default_factory=set)


def route_question(question: str, *, has_history: bool = False) -> Route:
    from analytics_chat.presentation.charts import wanted_placeholders

    wants = set(wanted_placeholders(question))
    if _DEFINITION.search(question):
        return Route(S.DEFINITION, {"semantic_context"})
    if _CATALOG.search(question):
        return Route(S.CATALOG, {"catalog"})
    wants.discard("catalog")
    wants.discard("semantic_context")
    return Route(S.DATA, wants | {"data"})
