"""load_sqlite copies a SQLite file into each server; the same DuckDB SQL then gives the same rows there as
on the DuckDB copy of the file (the transpile rules at work: division, averages, NULL order, TRY_CAST...)."""

from __future__ import annotations

import math
import sqlite3
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.execution import QueryError, run_query
from catalog.models import Column, DataSource, Relationship
from catalog.sync import import_source

from .conftest import Server

# Names in mixed case, numbers stored as text, NULLs, and a foreign key from TEXT to INTEGER that no
# server can hold (the loader keeps it in the catalog instead). Invented rows.
LEAGUE_SQL = """
CREATE TABLE "Team" ("Team_ID" INTEGER PRIMARY KEY, "Name" TEXT, "City" TEXT, "Founded" TEXT);
CREATE TABLE "player" ("Player_ID" INTEGER PRIMARY KEY, "Name" TEXT, "Team_ID" TEXT, "Goals" INTEGER,
    "Height" REAL, FOREIGN KEY ("Team_ID") REFERENCES "Team"("Team_ID"));
INSERT INTO "Team" VALUES (1, 'Rovers', 'Leeds', '1904'), (2, 'United', 'Ghent', 'n/a'), (3, 'City', NULL, '1921');
INSERT INTO player VALUES (1, 'Ana', '1', 10, 1.71), (2, 'Bo', '1', NULL, 1.80), (3, 'Cy', '2', 3, NULL),
    (4, 'Di', '2', 7, 1.65), (5, 'Ed', '3', 0, 1.90), (6, 'Fa', NULL, 1, 1.75);
"""

SAME_ROWS = [
    "SELECT count(*), sum(Goals), avg(Goals) FROM player",
    "SELECT Name, Goals / 3 FROM player ORDER BY Player_ID",
    "SELECT Name FROM player ORDER BY Goals LIMIT 3",
    "SELECT Name FROM player ORDER BY Height DESC LIMIT 2",
    "SELECT Name FROM player ORDER BY Height LIMIT 5",
    "SELECT T.Name, count(*) AS n FROM Team AS T JOIN player AS P ON P.Team_ID = CAST(T.Team_ID AS VARCHAR) "
    "GROUP BY T.Name ORDER BY n DESC, T.Name",
    "SELECT Name, try_cast(Founded AS INTEGER) + 1 FROM Team ORDER BY Team_ID",
    "SELECT Name, try_cast(Founded AS DOUBLE) / 2 FROM Team ORDER BY Team_ID",
    "SELECT count(*) FILTER (WHERE Height > 1.7), sum(Goals) FILTER (WHERE Team_ID = '1') FROM player",
    "SELECT Name FROM player WHERE regexp_matches(Name, '^[A-C]') ORDER BY Player_ID",
    "SELECT round(avg(Height), 2), round(max(Height)) FROM player",
    "SELECT Name FROM Team WHERE City IS NULL",
    # text compares by case and trailing spaces, as on the DuckDB copy (not MySQL's default collation)
    "SELECT count(*) FROM Team WHERE City = 'leeds' OR City = 'Leeds ' OR Name IN ('ROVERS', 'united')",
    "SELECT Name FROM player WHERE Name > 'a' OR Name < 'B' ORDER BY Name",
    "SELECT DISTINCT lower(Name) = Name FROM Team",
    "SELECT Team_ID, any_value(Name) FROM Team GROUP BY Team_ID ORDER BY Team_ID",
    "SELECT date_part('year', CAST(Founded || '-05-01' AS DATE)) FROM Team WHERE Team_ID <> 2 ORDER BY Team_ID",
    "SELECT upper(Name) || '!' FROM Team ORDER BY Team_ID",
    "SELECT Name FROM player WHERE Team_ID NOT IN (SELECT CAST(Team_ID AS VARCHAR) FROM Team WHERE City = 'Leeds') "
    "ORDER BY Player_ID",
    "SELECT Name FROM Team WHERE Team_ID IN (SELECT CAST(Team_ID AS INTEGER) FROM player) "
    "EXCEPT SELECT Name FROM Team WHERE City = 'Ghent'",
    "SELECT max(Goals) - min(Goals), count(DISTINCT Team_ID) FROM player",
    # text compared with numbers: DuckDB casts the text, PostgreSQL needs the cast written out
    "SELECT P.Name, T.Name FROM player AS P JOIN Team AS T ON P.Team_ID = T.Team_ID ORDER BY P.Player_ID",
    "SELECT count(*) FROM player WHERE Team_ID IN (1, 3) OR Team_ID = 2",
    "SELECT T.Name FROM Team AS T WHERE EXISTS (SELECT 1 FROM player AS P WHERE P.Team_ID <> T.Team_ID) ORDER BY T.Name",
    "SELECT * FROM Team ORDER BY Team_ID",
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def league_file(tmp_path: Path) -> Path:
    path = tmp_path / "league.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(LEAGUE_SQL)
    conn.close()
    return path


@pytest.fixture
def loaded(server: Server, league_file: Path, settings, tmp_path, capsys):
    """The league loaded into the server as ac_test_<random>_league and registered as '<dialect>-league'."""
    settings.CATALOG_SECRETS_DIR = tmp_path / "secrets"
    prefix = f"ac_test_{uuid.uuid4().hex[:8]}_"
    schema = f"{prefix}league"
    url = server.admin_url()
    try:
        call_command(
            "load_sqlite",
            url,
            str(league_file),
            "--schema-prefix",
            prefix,
            "--source-prefix",
            f"{server.dialect}-",
        )
        yield DataSource.objects.get(name=f"{server.dialect}-league"), capsys.readouterr().out
    finally:
        conn = server.admin()
        statement = f'DROP SCHEMA IF EXISTS "{schema}" CASCADE' if server.dialect == "postgres" else (
            f"DROP DATABASE IF EXISTS `{schema}`"
        )  # fmt: skip
        if server.dialect == "postgres":
            conn.execute(statement)
        else:
            with conn.cursor() as cursor:
                cursor.execute(statement)
        conn.close()


def _same(value: object) -> object:
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 6)
    return value


def test_loading_keeps_names_types_and_the_keys_the_server_refused(loaded, league_file: Path) -> None:
    source, out = loaded
    reference = import_source("league", league_file)
    assert "2 tables, 9 rows" in out and "kept in the catalog instead: foreign key player('Team_ID',)" in out

    def catalog(of: DataSource) -> list[tuple]:
        return list(
            Column.objects.filter(table__source=of)
            .order_by("table__name", "ordinal")
            .values_list("table__name", "name", "data_type", "is_primary_key", "profile")
        )

    assert catalog(source) == catalog(reference)
    key = Relationship.objects.get(from_column__table__source=source, from_column__name="Team_ID")
    assert (key.to_column.table.name, key.inferred) == ("Team", False)


@pytest.mark.parametrize("sql", SAME_ROWS)
def test_the_same_query_gives_the_same_rows_as_the_duckdb_copy(loaded, league_file: Path, sql: str) -> None:
    source, _ = loaded
    reference = import_source("league", league_file, profile=False)
    expected = [[_same(v) for v in row] for row in run_query(reference, sql).rows]
    actual = [[_same(v) for v in row] for row in run_query(source, sql).rows]
    if "order by" not in sql.lower():  # without ORDER BY any order of the rows is the same answer
        expected, actual = sorted(expected, key=repr), sorted(actual, key=repr)
    assert actual == expected


def test_arg_max_runs_on_postgresql_and_is_refused_by_mysql(loaded) -> None:
    source, _ = loaded
    sql = "SELECT arg_max(Name, Goals), arg_min(Name, Height) FROM player"
    if source.dialect == "postgres":
        assert run_query(source, sql).rows == [["Ana", "Di"]]
    else:
        with pytest.raises(QueryError, match="arg_max"):
            run_query(source, sql)


def test_the_copies_are_read_through_the_read_only_login(
    server: Server, league_file: Path, settings, tmp_path, monkeypatch
) -> None:
    """--read-url: the sources read as the README's read-only login, which is granted the new schema."""
    settings.CATALOG_SECRETS_DIR = tmp_path / "secrets"
    monkeypatch.setenv("AC_TEST_LEAGUE_PASSWORD", server.reader_password)
    prefix = f"ac_test_{uuid.uuid4().hex[:8]}_"
    schema = f"{prefix}league"
    try:
        call_command(
            "load_sqlite", server.admin_url(), str(league_file), "--schema-prefix", prefix,
            "--source-prefix", f"{server.dialect}-read-", "--read-url",
            server.reader_url(password_env="AC_TEST_LEAGUE_PASSWORD"), stdout=StringIO(),
        )  # fmt: skip
        source = DataSource.objects.get(name=f"{server.dialect}-read-league")
        assert source.user == server.reader
        assert run_query(source, "SELECT count(*) FROM player").rows == [[6]]
    finally:
        conn = server.admin()
        if server.dialect == "postgres":
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{schema}`")
                cursor.execute(f"REVOKE ALL PRIVILEGES ON `{schema}`.* FROM '{server.reader}'@'%'")
        conn.close()
