"""The SQL grammar, run through llama.cpp's own grammar engine (the 0.5B model's vocabulary)."""

import pytest

from analytics_chat.engine.grammar import MAX_NESTING, build_sql_grammar, needs_quotes, quote_identifier

from .conftest import grammar_accepts

SCHEMA = {
    "singer": ["Singer_ID", "Name", "Country", "Age"],
    "concert": ["concert_ID", "concert_Name", "Year"],
    "singer_in_concert": ["concert_ID", "Singer_ID"],
    "show": ["Show_ID", "Show Time", "order"],
}

VALID = [
    "SELECT count(*) FROM singer",
    "SELECT Name, Age FROM singer WHERE Country = 'France' ORDER BY Age DESC LIMIT 3",
    "SELECT DISTINCT Country FROM singer WHERE Age > 20",
    "SELECT avg(Age), min(Age), max(Age) FROM singer WHERE Country = 'France'",
    "SELECT Name FROM singer WHERE Age > (SELECT avg(Age) FROM singer)",
    "SELECT T1.Name, count(*) FROM singer AS T1 JOIN singer_in_concert AS T2 ON T1.Singer_ID = T2.Singer_ID GROUP BY T1.Name",
    "SELECT singer.Name FROM singer JOIN singer_in_concert ON singer.Singer_ID = singer_in_concert.Singer_ID",
    "SELECT Name FROM singer WHERE Singer_ID NOT IN (SELECT Singer_ID FROM singer_in_concert)",
    "SELECT Country FROM singer GROUP BY Country HAVING count(*) > 1",
    "SELECT Name FROM singer WHERE Age > 40 UNION SELECT Name FROM singer WHERE Country = 'Netherlands'",
    "SELECT Country FROM singer INTERSECT SELECT Country FROM singer WHERE Age < 30",
    "SELECT concert_Name FROM concert EXCEPT SELECT concert_Name FROM concert WHERE Year = '2014'",
    "SELECT CASE WHEN Age > 30 THEN 'old' ELSE 'young' END AS band, count(*) AS n FROM singer GROUP BY band",
    "SELECT CAST(Year AS INTEGER) + 1 FROM concert",
    'SELECT "Show Time" FROM "show" WHERE "order" IS NOT NULL',
    'SELECT "show"."Show Time" FROM "show";',
    "SELECT Name FROM singer WHERE EXISTS (SELECT 1 FROM singer_in_concert WHERE singer_in_concert.Singer_ID = singer.Singer_ID)",
    "SELECT Name FROM singer WHERE Name LIKE '%an%' AND Age BETWEEN 20 AND 40",
    "select name from singer",  # bare names in any case, as DuckDB reads them
    "SELECT sub.Country FROM (SELECT Country, count(*) AS n FROM singer GROUP BY Country) AS sub ORDER BY n DESC",
    "SELECT 'CANNOT_ANSWER'",
    # a share of the whole, a percentile, a weekday
    "SELECT Country, count(*) / sum(count(*)) OVER () FROM singer GROUP BY Country",
    "SELECT Country, Age, avg(Age) OVER (PARTITION BY Country) FROM singer",
    "SELECT quantile_cont(Age, 0.9), median(Age) FROM singer",
    "SELECT\n    Name\nFROM singer\nWHERE Age >= 30",
    "SELECT year(DATE '2020-01-05'), strftime(DATE '2020-01-05', '%Y')",
    "SELECT Name FROM singer WHERE Age>30 AND Age NOT IN (31, 32) AND Country IS NOT NULL",
    "SELECT T1.singer_id, NAME FROM SINGER AS T1 WHERE t1.AGE > 30",
]

INVALID = [
    "SELECT Nationality FROM singer",  # no such column
    "SELECT Name FROM singers",  # no such table
    "SELECT T1.Nationality FROM singer AS T1",  # an alias does not make up a column
    "SELECT T.n FROM (SELECT count(*) AS n FROM singer) AS T",  # a subquery in FROM is named sub
    "SELECT Name FROM singer WHERE singer.Year = '2014'",  # Year is concert's, not singer's
    "SELECT Show Time FROM show",  # needs quotes
    "SELECT Names FROM singer",  # any case, but only real names
    'SELECT "show time" FROM "show"',  # a name that needs quotes is quoted as stored
    "DROP TABLE singer",
    "SELECT Name FROM singer; DROP TABLE singer",
    "Here is the query: SELECT Name FROM singer",
    "SELECT Name FROM singer WHERE Agenot IN (SELECT Age FROM singer)",  # a keyword glued to a name
]


@pytest.fixture(scope="module")
def gbnf():
    return build_sql_grammar(SCHEMA)


@pytest.mark.parametrize("sql", VALID)
def test_accepts_valid_queries(vocab_llama, gbnf, sql):
    assert grammar_accepts(vocab_llama, gbnf, sql), sql


@pytest.mark.parametrize("sql", INVALID)
def test_rejects_invented_names_and_other_statements(vocab_llama, gbnf, sql):
    assert not grammar_accepts(vocab_llama, gbnf, sql), sql


def test_only_the_given_names_appear_in_the_grammar():
    gbnf = build_sql_grammar({"orders": ["order_id", "amount"]})
    assert r'"\"amount\""' in gbnf and r'"\"orders\""' in gbnf  # the quoted spellings
    assert "[aA] [mM] [oO] [uU] [nN] [tT]" in gbnf  # the bare one, in any case
    assert "singer" not in gbnf


def test_quoting_follows_duckdb_keywords():
    assert needs_quotes("show") and needs_quotes("Show Time") and needs_quotes("order")
    assert not needs_quotes("year") and not needs_quotes("Name")
    assert quote_identifier("Show Time") == '"Show Time"'
    assert quote_identifier('odd"name') == '"odd""name"'


def test_empty_schema_is_a_clear_error():
    with pytest.raises(ValueError, match="non-empty"):
        build_sql_grammar({})
    with pytest.raises(ValueError, match="no columns"):
        build_sql_grammar({"t": []})


@pytest.mark.parametrize(
    ("sql", "accepted"),
    [
        (
            "SELECT singer.Name FROM singer JOIN singer_in_concert ON singer.Singer_ID = singer_in_concert.Singer_ID",
            True,
        ),
        ("SELECT sub.Country FROM (SELECT Country FROM singer) AS sub", True),
        ("SELECT T1.Name FROM singer AS T1", False),
        ("SELECT singer.Year FROM singer", False),
    ],
)
def test_without_table_aliases_columns_stay_on_their_table(vocab_llama, sql, accepted):
    strict = build_sql_grammar(SCHEMA, table_aliases=False)
    assert grammar_accepts(vocab_llama, strict, sql) is accepted


def nested_from(depth: int) -> str:
    sql = "SELECT Name FROM singer"
    for _ in range(depth):
        sql = f"SELECT * FROM ({sql}) AS sub"
    return sql


def nested_parentheses(depth: int) -> str:
    return "SELECT " + "(" * depth + "Age" + ")" * depth + " FROM singer"


@pytest.mark.parametrize("build", [nested_from, nested_parentheses])
def test_nesting_stops_at_the_depth_limit(vocab_llama, gbnf, build):
    assert grammar_accepts(vocab_llama, gbnf, build(MAX_NESTING))
    assert not grammar_accepts(vocab_llama, gbnf, build(MAX_NESTING + 1))


def test_a_function_call_opens_a_level_too(vocab_llama, gbnf):
    calls = "SELECT " + "abs(" * MAX_NESTING + "Age" + ")" * MAX_NESTING + " FROM singer"
    assert grammar_accepts(vocab_llama, gbnf, calls)
    assert not grammar_accepts(vocab_llama, gbnf, calls.replace("abs(", "abs((", 1).replace(")", "))", 1))
