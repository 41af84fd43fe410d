"""The machine's real PostgreSQL and MariaDB, each with a throw-away database named ``ac_test_<random>``.

Each server gets, once per test session: a ``shop`` of customers, orders (with declared keys and
comments), a view, a 300,000-row ``events`` table (for sampling, time limits and aborts), a ``private``
table the service must never read, and a read-only login ``ac_test_reader_<random>`` made by the README's
own script (``docs/read-only-role/``, see ``role_script``): SELECT on the shop only. Everything is dropped
afterwards.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
import pytest

PG_HOST, PG_PORT, PG_ADMIN = "127.0.0.1", 5432, "postgres"
MARIA_HOST, MARIA_PORT, MARIA_ADMIN = "127.0.0.1", 3306, "root"
EVENTS = 300_000
CUSTOMERS = [(1, "Ana Ruiz", "Spain"), (2, "Luc Petit", "France"), (3, "Marie Curie", "France"),
             (4, "Kenji Sato", "Japan"), (5, "Sam Lee", None)]  # fmt: skip
ORDERS = [(1, 1, 30.5, "shipped"), (2, 2, 250.0, "shipped"), (3, 2, 80.0, "returned"),
          (4, 3, 120.0, "shipped"), (5, 4, 30.5, "pending"), (6, 4, 250.0, "shipped"), (7, 5, 80.0, None)]  # fmt: skip
SECRET = "the-private-table-was-read"
ROLE_SCRIPTS = Path(__file__).resolve().parents[2] / "docs" / "read-only-role"
# The names the scripts are written with, which a reader replaces with their own.
SCRIPT_NAMES = ("analytics_reader", "shop", "sales")
SCRIPT_PASSWORD = "change-me"

PG_SETUP = f"""
CREATE SCHEMA shop;
CREATE SCHEMA private;
CREATE TABLE shop.customers (id integer PRIMARY KEY, name varchar(80) NOT NULL, country text);
COMMENT ON TABLE shop.customers IS 'People who bought something';
COMMENT ON COLUMN shop.customers.country IS 'Where they live';
CREATE TABLE shop.orders (order_id integer PRIMARY KEY, customer_id integer REFERENCES shop.customers (id),
    amount numeric(10, 2), status text);
CREATE VIEW shop.order_totals AS SELECT customer_id, sum(amount) AS total FROM shop.orders GROUP BY customer_id;
CREATE TABLE shop."Events" ("Id" bigint PRIMARY KEY, customer_id integer, kind text, amount double precision);
INSERT INTO shop."Events" SELECT g, 1 + g % 5, CASE WHEN g % 3 = 0 THEN 'click' ELSE 'view' END, g % 97
    FROM generate_series(1, {EVENTS}) AS g;
CREATE TABLE private.secrets (value text);
INSERT INTO private.secrets VALUES ('{SECRET}');
"""

MARIA_SETUP = f"""
CREATE TABLE customers (id int PRIMARY KEY, name varchar(80) NOT NULL COMMENT 'Full name',
    country varchar(40) COMMENT 'Where they live') COMMENT 'People who bought something';
CREATE TABLE orders (order_id int PRIMARY KEY, customer_id int, amount decimal(10, 2), status varchar(20),
    FOREIGN KEY (customer_id) REFERENCES customers (id));
CREATE VIEW order_totals AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id;
CREATE TABLE `Events` (`Id` bigint PRIMARY KEY, customer_id int, kind varchar(10), amount double);
INSERT INTO `Events` SELECT seq, 1 + seq % 5, IF(seq % 3 = 0, 'click', 'view'), seq % 97 FROM seq_1_to_{EVENTS};
"""


@dataclass
class Server:
    """One throw-away database on a real server and the read-only login the service uses on it."""

    dialect: str  # "postgres" or "mysql"
    database: str
    reader: str
    reader_password: str
    private: str  # where the table the reader may not read lives (a schema, or a database on MariaDB)

    @property
    def scheme(self) -> str:
        return "postgresql" if self.dialect == "postgres" else "mysql"

    @property
    def host_port(self) -> str:
        return f"{PG_HOST}:{PG_PORT}" if self.dialect == "postgres" else f"{MARIA_HOST}:{MARIA_PORT}"

    def admin_url(self, database: str | None = None) -> str:
        admin = PG_ADMIN if self.dialect == "postgres" else MARIA_ADMIN
        return f"{self.scheme}://{admin}@{self.host_port}/{database or self.database}"

    def reader_url(self, **options: str) -> str:
        """The reader's URL; the password is named by options (password_env/password_file), never written."""
        query = "&".join(f"{k}={v}" for k, v in options.items())
        schema = "?schema=shop" if self.dialect == "postgres" else ""
        joiner = "&" if schema and query else ("?" if query else "")
        return f"{self.scheme}://{self.reader}@{self.host_port}/{self.database}{schema}{joiner}{query}"

    def admin(self):
        """A connection as the server's administrator, for set-up and for checking what happened."""
        if self.dialect == "postgres":
            return psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=self.database, autocommit=True
            )
        return pymysql.connect(
            host=MARIA_HOST, port=MARIA_PORT, user=MARIA_ADMIN, database=self.database, autocommit=True
        )

    def scalar(self, sql: str):
        conn = self.admin()
        try:
            if self.dialect == "postgres":
                return conn.execute(sql).fetchone()[0]
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()[0]
        finally:
            conn.close()

    def running_queries(self) -> int:
        """Statements the reader has running on the server right now."""
        if self.dialect == "postgres":
            return self.scalar(
                f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{self.reader}' AND state = 'active'"
            )
        return self.scalar(
            f"SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = '{self.reader}' "
            "AND COMMAND = 'Query'"
        )


def _name() -> str:
    return uuid.uuid4().hex[:10]


def role_script(dialect: str, role: str, password: str, database: str, schemas: list[str] = ()) -> str:
    """The README's script for the read-only login (``docs/read-only-role/``), with its names replaced as a
    reader replaces them: the login, its password, the database and (PostgreSQL) the schemas."""
    text = (ROLE_SCRIPTS / ("postgresql.sql" if dialect == "postgres" else "mysql.sql")).read_text()
    for name in (role, database, *schemas):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name  # written unquoted in the script
    values = dict(zip(SCRIPT_NAMES, (role, database, ", ".join(schemas) or "public"), strict=True))
    words = re.compile(r"\b(" + "|".join(SCRIPT_NAMES) + r")\b")
    text = words.sub(lambda match: values[match.group(1)], text)
    return text.replace(f"'{SCRIPT_PASSWORD}'", "'" + password.replace("'", "''") + "'")


def script_statements(text: str) -> list[str]:
    """A script's statements, one by one, without its comments (no ';' in the scripts' strings)."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def run_role_script(conn, dialect: str, role: str, password: str, database: str, schemas=()) -> None:
    """Run the README's script as the administrator, on ``conn`` (connected to ``database``)."""
    statements = script_statements(role_script(dialect, role, password, database, list(schemas)))
    if dialect == "postgres":
        for statement in statements:
            conn.execute(statement)
        return
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@pytest.fixture(scope="session")
def postgres_server():
    name = _name()
    # (the password is not checked under this machine's trust authentication, but is set as documented)
    server = Server("postgres", f"ac_test_{name}", f"ac_test_reader_{name}", uuid.uuid4().hex, "private")
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{server.database}"')
    try:
        with server.admin() as conn:
            conn.execute(PG_SETUP)
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO shop.customers VALUES (%s, %s, %s)", CUSTOMERS)
                cursor.executemany("INSERT INTO shop.orders VALUES (%s, %s, %s, %s)", ORDERS)
            # The README's read-only role: connect, use the schema, read its tables; nothing else.
            run_role_script(
                conn, "postgres", server.reader, server.reader_password, server.database, ["shop"]
            )
            conn.execute("ANALYZE")
        yield server
    finally:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{server.database}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{server.reader}"')


@pytest.fixture(scope="session")
def mariadb_server():
    name = _name()
    server = Server(
        "mysql", f"ac_test_{name}", f"ac_test_reader_{name}", uuid.uuid4().hex, f"ac_test_{name}_private"
    )
    conn = pymysql.connect(host=MARIA_HOST, port=MARIA_PORT, user=MARIA_ADMIN, autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{server.database}`")
            cursor.execute(f"CREATE DATABASE `{server.private}`")
            cursor.execute(f"CREATE TABLE `{server.private}`.secrets (value text)")
            cursor.execute(f"INSERT INTO `{server.private}`.secrets VALUES (%s)", (SECRET,))
            cursor.execute(f"USE `{server.database}`")
            for statement in filter(str.strip, MARIA_SETUP.split(";")):
                cursor.execute(statement)
            cursor.executemany("INSERT INTO customers VALUES (%s, %s, %s)", CUSTOMERS)
            cursor.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s)", ORDERS)
            # The README's read-only login: SELECT on the one database, nothing else (no FILE, no PROCESS).
            run_role_script(conn, "mysql", server.reader, server.reader_password, server.database)
            cursor.execute("ANALYZE TABLE customers, orders, `Events`")
        yield server
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{server.database}`")
            cursor.execute(f"DROP DATABASE IF EXISTS `{server.private}`")
            cursor.execute(f"DROP USER IF EXISTS '{server.reader}'@'%'")
        conn.close()


@pytest.fixture(scope="session", params=["postgres", "mysql"])
def server(request) -> Server:
    """Each server in turn (tests that hold on both)."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_server")
    return request.getfixturevalue("mariadb_server")


@pytest.fixture
def password_env(server: Server, monkeypatch) -> str:
    """The reader's password in an environment variable, as a deployment would pass it."""
    variable = "AC_TEST_SOURCE_PASSWORD"
    monkeypatch.setitem(os.environ, variable, server.reader_password)
    return variable


@pytest.fixture
def source(server: Server, password_env: str, db, settings, tmp_path):
    """The shop registered as a source through the reader's login (imported and profiled)."""
    from catalog.sync import import_source

    settings.CATALOG_SECRETS_DIR = tmp_path / "secrets"
    return import_source(f"{server.dialect}-shop", server.reader_url(password_env=password_env))
