"""A GBNF grammar for the DuckDB SELECT subset the model may write, naming only real tables and columns.

Expressions are written without left recursion (``a (op a)*``) because llama.cpp's grammar engine
cannot handle it. Keywords accept upper or lower case. Identifiers are double-quoted, exactly as
stored, when DuckDB needs it ("SHOW", "Unit Price"); otherwise they may be bare in any case, as DuckDB
reads them (``petid`` for ``PetID``): held to the stored case, a model that began ``pet`` for ``PetID``
could only go on to ``pet_age``.

``table.column`` can only name that table's own columns. Table aliases are short (``T1``, ``s``, ``sc``):
a model trained on Spider-style SQL reaches for them, and forbidding them pushes it down odd paths (``T``
becoming ``TIMESTAMP ...``). ``T1.column`` accepts any real column; sqlglot's qualify catches a column put
on the wrong table, and the SQL path's repairs move it. A subquery in FROM is named ``sub``, ``sub1``, ...:
only there may a qualified name be a free word (an output alias of the subquery), so ``T2.pet_type``
cannot be invented. Output aliases (``AS total``) are free words.

No two alternatives of a rule start alike: llama.cpp keeps one parse stack per live alternative, so a
shared start (``titem ... | titem ...``) doubles the stacks at every nesting level, and with them the
cost of every later token (measured: 0.2 ms a token at the first ``FROM (``, 300 ms at the tenth).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence

import duckdb

_SIMPLE_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

AGGREGATES = ("count", "sum", "avg", "min", "max")
FUNCTIONS = (
    "lower", "upper", "length", "trim", "substr", "substring", "replace", "concat", "round", "abs",
    "coalesce", "nullif", "year", "month", "day", "date_trunc", "date_part", "strftime", "strptime",
    "try_cast", "arg_max", "arg_min", "median", "string_agg", "current_date",
    "quantile_cont", "quantile_disc", "dayname", "monthname", "dayofweek", "quarter", "date_diff",
)  # fmt: skip
TYPES = ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "VARCHAR", "DATE", "TIMESTAMP", "BOOLEAN")

# How deep parentheses, subqueries and CASE may nest. Every construct that opens a level (a subquery, a
# parenthesis, a function call, CASE, CAST, EXTRACT, IN (...)) reads the rules of the next level, and the
# last level has none of them: no query the grammar accepts nests deeper, so no draft can open
# ``(SELECT * FROM (SELECT * FROM (`` without end. The eval's gold queries nest at most 4 deep.
MAX_NESTING = 6

# The fixed part: everything except the names of one schema (rules ``table`` and ``column``) and the
# nesting levels below.
_BASE = r"""
root ::= query sp (";")?
setop ::= UNION (ws ALL)? | INTERSECT | EXCEPT
jointype ::= JOIN | INNER ws JOIN | LEFT ws (OUTER ws)? JOIN | RIGHT ws (OUTER ws)? JOIN | FULL ws (OUTER ws)? JOIN | CROSS ws JOIN
limit ::= LIMIT ws [0-9]{1,6} (ws OFFSET ws [0-9]{1,6})?
cmp ::= "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
colref ::= column | qualified | talias "." (column | "*") | subalias "." (column | alias | "*")
talias ::= [A-Za-z] [A-Za-z0-9]?
subalias ::= "sub" [0-9]?
datepart ::= "YEAR" | "MONTH" | "DAY" | "QUARTER" | "WEEK" | "HOUR" | "year" | "month" | "day" | "quarter" | "week" | "hour"
number ::= [0-9]{1,15} ("." [0-9]{1,10})?
string ::= "'" ([^'\n] | "''"){0,80} "'"
alias ::= [A-Za-z_] [A-Za-z0-9_]{0,30}
ws ::= [ \n] [ ]{0,8}
sp ::= ([ \n] [ ]{0,8})?
"""

# The rules of one nesting level. An alternative naming an opener (below) is left out of the last level.
_LEVEL = r"""
query ::= select (ws setop ws select)* (ws orderby)? (ws limit)?
select ::= SELECT ws (DISTINCT ws)? items (ws FROM ws source)? (ws WHERE ws expr)? (ws GROUPBY ws gitem (sp "," sp gitem)*)? (ws HAVING ws expr)?
items ::= item (sp "," sp item)*
item ::= "*" | expr (ws (AS ws)? alias)?
source ::= titem ((joinpart)* | (sp "," sp titem)+)
joinpart ::= ws jointype ws titem (ws ON ws expr)?
titem ::= table (ws (AS ws)? talias)? | subquery
orderby ::= ORDERBY ws oitem (sp "," sp oitem)*
gitem ::= expr | alias
oitem ::= (expr | alias) (ws (ASC | DESC))? (ws NULLS ws (FIRST | LAST))?
exprs ::= expr (sp "," sp expr)*
expr ::= conj (ws OR ws conj)*
conj ::= neg (ws AND ws neg)*
neg ::= (NOT ws)? pred
pred ::= sum (sp cmp sp sum | ws tail)?
tail ::= inlist | (NOT ws)? BETWEEN ws sum ws AND ws sum | (NOT ws)? (LIKE | ILIKE) ws sum | IS ws (NOT ws)? NULL
sum ::= prod (sp ("+" | "-" | "||") sp prod)*
prod ::= unary (sp ("*" | "/" | "%") sp unary)*
unary ::= "-"? atom
atom ::= number | string | NULL | colref | call | paren | exists | case | cast | extract | DATE ws string
"""

# The constructs that open a level; ``name^`` is that rule one level deeper.
_OPENERS = r"""
subquery ::= "(" sp query^ sp ")" ws (AS ws)? subalias
inlist ::= (NOT ws)? IN sp "(" sp (query^ | exprs^) sp ")"
paren ::= "(" sp (query^ | expr^) sp ")"
exists ::= EXISTS sp "(" sp query^ sp ")"
call ::= agg "(" sp (DISTINCT ws)? (expr^ | "*") sp ")" (ws OVER sp "(" sp (PARTITIONBY ws exprs^)? sp ")")? | func "(" sp exprs^? sp ")"
case ::= CASE (ws sum^)? (ws WHEN ws expr^ ws THEN ws expr^)+ (ws ELSE ws expr^)? ws END
cast ::= (CAST | TRYCAST) "(" sp expr^ ws AS ws type sp ")"
extract ::= EXTRACT "(" sp datepart ws FROM ws expr^ sp ")"
"""

_RULE = re.compile(r"^([a-z][a-z0-9-]*) ::= (.*)$")
_GBNF_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]|[A-Za-z][A-Za-z0-9-]*\^?|\s+|.')


def _rules(text: str) -> list[tuple[str, str]]:
    return [_RULE.match(line).groups() for line in text.strip().splitlines()]  # type: ignore[union-attr,misc]


def _level_name(name: str, level: int) -> str:
    return name if level == 0 else f"{name}-d{level}"


def _top_alternatives(body: str) -> list[str]:
    """The alternatives of a rule body, split at the ``|`` outside parentheses, quotes and classes."""
    alternatives: list[str] = []
    current: list[str] = []
    depth = 0
    for token in _GBNF_TOKEN.findall(body):
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        if token == "|" and depth == 0:
            alternatives.append("".join(current).strip())
            current = []
        else:
            current.append(token)
    alternatives.append("".join(current).strip())
    return alternatives


def _at_level(body: str, level: int, leveled: frozenset[str]) -> str:
    """A rule body with its references to leveled rules renamed: ``x`` to this level, ``x^`` to the next."""
    out = []
    for token in _GBNF_TOKEN.findall(body):
        name = token.rstrip("^")
        if name in leveled:
            token = _level_name(name, level + 1 if token.endswith("^") else level)
        out.append(token)
    return "".join(out)


def nesting_rules(max_nesting: int = MAX_NESTING) -> str:
    """The query and expression rules, once per nesting level, the last without any opener."""
    level_rules, opener_rules = _rules(_LEVEL), _rules(_OPENERS)
    openers = frozenset(name for name, _ in opener_rules)
    leveled = frozenset(name for name, _ in level_rules) | openers
    lines = []
    for level in range(max_nesting + 1):
        last = level == max_nesting
        for name, body in level_rules:
            if last:
                kept = [
                    alternative
                    for alternative in _top_alternatives(body)
                    if not openers & set(_GBNF_TOKEN.findall(alternative))
                ]
                body = " | ".join(kept)
            lines.append(f"{_level_name(name, level)} ::= {_at_level(body, level, leveled)}")
        if not last:
            lines += [
                f"{_level_name(name, level)} ::= {_at_level(body, level, leveled)}"
                for name, body in opener_rules
            ]
    return "\n".join(lines)


_KEYWORDS = [
    "SELECT",
    "DISTINCT",
    "FROM",
    "WHERE",
    "HAVING",
    "AS",
    "UNION",
    "ALL",
    "INTERSECT",
    "EXCEPT",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "CROSS",
    "ON",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "OR",
    "AND",
    "NOT",
    "IN",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "IS",
    "NULL",
    "EXISTS",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "EXTRACT",
    "DATE",
    "OVER",
]


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _either_case(word: str) -> str:
    return f"({_literal(word.upper())} | {_literal(word.lower())})"


@functools.cache
def _duckdb_keywords() -> frozenset[str]:
    """Words DuckDB does not accept as a bare column or table name."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved'"
        ).fetchall()
    return frozenset(name.lower() for (name,) in rows)


def needs_quotes(name: str) -> bool:
    return not _SIMPLE_IDENTIFIER.match(name) or name.lower() in _duckdb_keywords()


def quote_identifier(name: str) -> str:
    """The name as DuckDB must read it: bare when possible, else double-quoted."""
    return '"' + name.replace('"', '""') + '"' if needs_quotes(name) else name


def _any_case(name: str) -> str:
    """A bare name in any mix of case (``[pP] [eE] [tT] "_" ...``): DuckDB reads ``petid`` as ``PetID``."""
    return " ".join(
        f"[{char.lower()}{char.upper()}]" if char.lower() != char.upper() else _literal(char) for char in name
    )


def _name_alternatives(names: Sequence[str]) -> str:
    options: list[str] = []
    for name in sorted(set(names), key=lambda n: (-len(n), n)):
        quoted = '"' + name.replace('"', '""') + '"'
        options.append(_literal(quoted))
        if not needs_quotes(name):
            options.append(f"({_any_case(name)})")
    return " | ".join(options)


def build_sql_grammar(schema: Mapping[str, Sequence[str]] | object, *, table_aliases: bool = True) -> str:
    """GBNF for a SELECT over ``schema``: a ``{table: [column, ...]}`` mapping or anything with ``.names()``.

    With ``table_aliases=False`` base tables take no alias, so every qualified column is
    ``table.column`` of that very table (the correction round uses this after a column was put on the
    wrong table); subqueries in FROM are then named ``sub``, ``sub1``, ...
    """
    names = schema.names() if hasattr(schema, "names") else schema
    if not isinstance(names, Mapping) or not names:
        raise ValueError("build_sql_grammar needs a non-empty {table: [columns]} mapping")
    tables = list(names)
    columns = [column for table_columns in names.values() for column in table_columns]
    if not columns:
        raise ValueError("build_sql_grammar: the schema has no columns")
    base = _BASE.strip() + "\n" + nesting_rules()
    if not table_aliases:
        base = base.replace("table (ws (AS ws)? talias)?", "table").replace(
            "talias ::= [A-Za-z] [A-Za-z0-9]?", 'talias ::= "sub" [0-9]?'
        )
    lines = [base]
    lines.append(f"table ::= {_name_alternatives(tables)}")
    lines.append(f"column ::= {_name_alternatives(columns)}")
    # One rule per table so that ``table.`` can only be followed by that table's own columns.
    lines.append("qualified ::= " + " | ".join(f"t{i}-ref" for i in range(len(tables))))
    for i, (table, table_columns) in enumerate(names.items()):
        lines.append(f"table{i} ::= {_name_alternatives([table])}")
        lines.append(f't{i}-ref ::= table{i} "." (t{i}-col | "*")')
        lines.append(f"t{i}-col ::= {_name_alternatives(table_columns)}")
    lines.append("agg ::= " + " | ".join(_either_case(f) for f in AGGREGATES))
    lines.append("func ::= " + " | ".join(_either_case(f) for f in FUNCTIONS))
    lines.append("type ::= " + " | ".join(_either_case(t) for t in TYPES))
    keyword_rules = {word: _either_case(word) for word in _KEYWORDS}
    keyword_rules["GROUPBY"] = f"{_either_case('group')} ws {_either_case('by')}"
    keyword_rules["ORDERBY"] = f"{_either_case('order')} ws {_either_case('by')}"
    keyword_rules["TRYCAST"] = _either_case("try_cast")
    # a share of the whole: SUM(x) / SUM(SUM(x)) OVER () or ... OVER (PARTITION BY ...)
    keyword_rules["PARTITIONBY"] = f"{_either_case('partition')} ws {_either_case('by')}"
    lines.extend(f"{word} ::= {rule}" for word, rule in keyword_rules.items())
    return "\n".join(lines) + "\n"
