"""The README's read-only login, made by its own scripts (``docs/read-only-role/``) on a fresh database of
each server: the service imports a source through it and answers a query on the execution path, and with
no guard and no READ ONLY transaction the server itself refuses that login every write, file read and
change of a server setting. What the login may still change about itself is shown too, with the layer
that stops it.

``test_hostile.py`` runs the whole hostile corpus through the same login (the session's servers are set up
with these scripts too) on the connection queries get; here the login stands alone.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pymysql
import pytest

from analytics_chat.llm.base import CancelToken
from analytics_chat.pipeline import stages
from analytics_chat.pipeline.state import AnswerState, Scope, StageContext
from catalog.execution import server_engine
from catalog.guard import GuardError, check_sql
from catalog.sync import import_source, sync_source

from .conftest import (
    MARIA_ADMIN,
    MARIA_HOST,
    MARIA_PORT,
    PG_ADMIN,
    PG_HOST,
    PG_PORT,
    ROLE_SCRIPTS,
    run_role_script,
)

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "salaries-were-read"
ORDERS = [(1, "shipped", 30.5), (2, "shipped", 250.0), (3, "returned", 80.0)]

pytestmark = pytest.mark.django_db


def test_the_readme_shows_the_scripts_as_they_are() -> None:
    readme = README.read_text()
    for script in ("postgresql.sql", "mysql.sql"):
        text = (ROLE_SCRIPTS / script).read_text()
        assert f"```sql\n{text}```\n" in readme, (
            f"README.md does not show docs/read-only-role/{script} as it is"
        )


class Fresh:
    """A fresh database made for one test module, its read-only login made by the README's script."""

    def __init__(self, dialect: str) -> None:
        name = uuid.uuid4().hex[:10]
        self.dialect = dialect
        self.database = f"ac_test_role_{name}"
        self.other = "hr" if dialect == "postgres" else f"ac_test_role_{name}_hr"  # never granted
        self.reader = f"ac_test_role_reader_{name}"
        self.password = uuid.uuid4().hex
        self.file = Path(f"/tmp/ac_test_role_{name}")

    def admin(self, database: str | None = None):
        if self.dialect == "postgres":
            return psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname=database or self.database, autocommit=True
            )
        return pymysql.connect(
            host=MARIA_HOST, port=MARIA_PORT, user=MARIA_ADMIN, database=database, autocommit=True
        )

    def admin_run(self, *statements: str, database: str | None = None) -> list:
        conn = self.admin(database)
        try:
            rows = []
            for statement in statements:
                if self.dialect == "postgres":
                    cursor = conn.execute(statement)
                    rows = cursor.fetchall() if cursor.description else []
                else:
                    with conn.cursor() as cursor:
                        cursor.execute(statement)
                        rows = list(cursor.fetchall())
            return rows
        finally:
            conn.close()

    def url(self, option: str) -> str:
        if self.dialect == "postgres":
            return f"postgresql://{self.reader}@{PG_HOST}:{PG_PORT}/{self.database}?schema=sales&{option}"
        return f"mysql://{self.reader}@{MARIA_HOST}:{MARIA_PORT}/{self.database}?{option}"

    def reader_connection(self):
        """A plain connection as the login, with read-write transactions asked for: only its privileges
        stand between it and the data."""
        if self.dialect == "postgres":
            conn = psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=self.reader, password=self.password, dbname=self.database,
                autocommit=True,
            )  # fmt: skip
            conn.execute("SET default_transaction_read_only = off")
            return conn
        conn = pymysql.connect(
            host=MARIA_HOST, port=MARIA_PORT, user=self.reader, password=self.password, database=self.database,
            autocommit=True,
        )  # fmt: skip
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ WRITE")
        return conn

    def fingerprint(self) -> tuple:
        table = "sales.orders" if self.dialect == "postgres" else "orders"
        count = f"SELECT count(*), sum(amount) FROM {table}"
        if self.dialect == "postgres":
            tables = (
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
            )
            return tuple(self.admin_run(count)[0]), self.admin_run(tables)[0][0]
        tables = (
            "SELECT count(*) FROM information_schema.TABLES "
            f"WHERE TABLE_SCHEMA IN ('{self.database}', '{self.other}')"
        )
        return tuple(self.admin_run(count, database=self.database)[0]), self.admin_run(tables)[0][0]


def _make_postgres(fresh: Fresh) -> None:
    fresh.admin_run(f"CREATE DATABASE {fresh.database}", database="postgres")
    fresh.admin_run(
        "CREATE SCHEMA sales",
        "CREATE SCHEMA hr",
        "CREATE TABLE sales.orders (order_id integer PRIMARY KEY, status text, amount numeric(10, 2))",
        "INSERT INTO sales.orders VALUES " + ", ".join(f"({i}, '{s}', {a})" for i, s, a in ORDERS),
        f"CREATE TABLE hr.salaries (name text, salary integer); INSERT INTO hr.salaries VALUES ('{SECRET}', 1)",
    )
    conn = fresh.admin()
    try:
        run_role_script(conn, "postgres", fresh.reader, fresh.password, fresh.database, ["sales"])
    finally:
        conn.close()
    # made after the GRANTs: readable through the script's default privileges
    fresh.admin_run("CREATE TABLE sales.refunds (order_id integer, amount numeric(10, 2))")
    fresh.admin_run("INSERT INTO sales.refunds VALUES (3, 80.0)")


def _drop_postgres(fresh: Fresh) -> None:
    fresh.admin_run(
        f"DROP DATABASE IF EXISTS {fresh.database} WITH (FORCE)", f"DROP ROLE IF EXISTS {fresh.reader}",
        database="postgres",
    )  # fmt: skip


def _make_mysql(fresh: Fresh) -> None:
    fresh.admin_run(
        f"CREATE DATABASE `{fresh.database}`",
        f"CREATE DATABASE `{fresh.other}`",
        f"CREATE TABLE `{fresh.other}`.salaries (name text, salary int)",
        f"INSERT INTO `{fresh.other}`.salaries VALUES ('{SECRET}', 1)",
        f"CREATE TABLE `{fresh.database}`.orders (order_id int PRIMARY KEY, status varchar(20), amount decimal(10, 2))",
        f"INSERT INTO `{fresh.database}`.orders VALUES "
        + ", ".join(f"({i}, '{s}', {a})" for i, s, a in ORDERS),
    )
    conn = fresh.admin()
    try:
        run_role_script(conn, "mysql", fresh.reader, fresh.password, fresh.database)
    finally:
        conn.close()
    fresh.admin_run(
        f"CREATE TABLE `{fresh.database}`.refunds (order_id int, amount decimal(10, 2))",
        f"INSERT INTO `{fresh.database}`.refunds VALUES (3, 80.0)",
    )


def _drop_mysql(fresh: Fresh) -> None:
    fresh.admin_run(
        f"DROP DATABASE IF EXISTS `{fresh.database}`",
        f"DROP DATABASE IF EXISTS `{fresh.other}`",
        f"DROP USER IF EXISTS '{fresh.reader}'@'%'",
    )


@pytest.fixture(scope="module", params=["postgres", "mysql"])
def fresh(request):
    fresh = Fresh(request.param)
    make, drop = (
        (_make_postgres, _drop_postgres) if fresh.dialect == "postgres" else (_make_mysql, _drop_mysql)
    )
    try:
        make(fresh)
        yield fresh
    finally:
        drop(fresh)
        fresh.file.unlink(missing_ok=True)


@pytest.fixture
def role_source(fresh: Fresh, settings, tmp_path, monkeypatch):
    """The fresh database imported as a source through the login, its password as the README says to pass
    it: a secret file on PostgreSQL, an environment variable on MariaDB."""
    settings.CATALOG_SECRETS_DIR = tmp_path / "secrets"
    if fresh.dialect == "postgres":
        secret = tmp_path / "reader.password"
        secret.write_text(fresh.password + "\n")
        option = f"password_file={secret}"
    else:
        monkeypatch.setenv("AC_TEST_ROLE_PASSWORD", fresh.password)
        option = "password_env=AC_TEST_ROLE_PASSWORD"
    return import_source(f"role-{fresh.dialect}", fresh.url(option))


def _execute(source_name: str, sql: str) -> AnswerState:
    """``sql`` through the pipeline's execute stage: the guard, then the source's engine."""
    state = AnswerState(
        message_uuid=str(uuid.uuid4()), ask="-", scope=Scope(source=source_name), model_name="-"
    )
    state.sql = sql
    stages.execute(state, StageContext(generator=None, cancel=CancelToken()))
    return state


def test_a_source_imported_through_the_login_answers_on_the_execution_path(role_source, fresh: Fresh) -> None:
    # the tables of the granted schema or database, one made after the GRANTs among them; not the others
    assert sorted(role_source.tables.values_list("name", flat=True)) == ["orders", "refunds"]
    state = _execute(
        role_source.name,
        "SELECT o.status, count(*) AS orders, sum(o.amount) AS amount, count(r.order_id) AS refunded "
        "FROM orders AS o LEFT JOIN refunds AS r ON r.order_id = o.order_id GROUP BY o.status ORDER BY o.status",
    )
    assert state.data["rows"] == [["returned", 1, 80.0, 1], ["shipped", 2, 280.5, 0]]
    assert sync_source(role_source).columns_added == []


def _refused(fresh: Fresh, conn, sql: str) -> str:
    """The server's refusal of ``sql`` on ``conn``, as its error code and first line."""
    if fresh.dialect == "postgres":
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(sql)
        return f"{caught.value.sqlstate} {str(caught.value).splitlines()[0]}"
    with pytest.raises(pymysql.Error) as caught, conn.cursor() as cursor:
        cursor.execute(sql)
    return f"{caught.value.args[0]} {caught.value.args[1]}"


PG_REFUSED = {
    "write": [
        "INSERT INTO sales.orders VALUES (99, 'stolen', 1)",
        "UPDATE sales.orders SET amount = 0",
        "DELETE FROM sales.orders",
        "TRUNCATE sales.orders",
        "CREATE TABLE sales.stolen (x integer)",
        "CREATE TABLE public.stolen (x integer)",
        "CREATE TEMP TABLE stolen (x integer)",
        "CREATE SCHEMA stolen",
        "DROP TABLE sales.orders",
        "ALTER TABLE sales.orders ADD COLUMN pwned integer",
        "GRANT SELECT ON hr.salaries TO PUBLIC",
        "SELECT * FROM hr.salaries",
    ],
    "file": [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_read_binary_file('/etc/passwd')",
        "SELECT * FROM pg_ls_dir('/')",
        "SELECT lo_import('/etc/passwd')",
        "COPY sales.orders TO '{file}'",
        "COPY sales.orders FROM '/etc/passwd'",
        "COPY (SELECT 1) TO PROGRAM 'touch {file}'",
    ],
    "setting": [
        "ALTER SYSTEM SET work_mem = '1GB'",
        "SET log_statement = 'none'",
        "SELECT set_config('session_replication_role', 'replica', false)",
        "ALTER DATABASE {database} SET default_transaction_read_only = off",
        "SELECT pg_reload_conf()",
        "SET ROLE postgres",
    ],
}
MYSQL_REFUSED = {
    "write": [
        "INSERT INTO orders VALUES (99, 'stolen', 1)",
        "UPDATE orders SET amount = 0",
        "DELETE FROM orders",
        "TRUNCATE TABLE orders",
        "CREATE TABLE stolen (x int)",
        "CREATE TEMPORARY TABLE stolen (x int)",
        "CREATE DATABASE ac_test_role_stolen",
        "DROP TABLE orders",
        "ALTER TABLE orders ADD COLUMN pwned int",
        "GRANT SELECT ON {other}.* TO CURRENT_USER",
        "SELECT * FROM {other}.salaries",
    ],
    "file": [
        "SELECT * FROM orders INTO OUTFILE '{file}'",
        "SELECT status FROM orders LIMIT 1 INTO DUMPFILE '{file}'",
        "LOAD DATA INFILE '/etc/passwd' INTO TABLE orders",
    ],
    "setting": [
        "SET GLOBAL max_connections = 1",
        "SET GLOBAL read_only = 1",
        "SET SESSION sql_log_bin = 0",
        "SET GLOBAL general_log = 1",
        "CREATE USER ac_test_role_mallory IDENTIFIED BY 'x'",
    ],
}
# The server's word for "not allowed": PostgreSQL's insufficient_privilege; MySQL's access denied codes
# (1044 database, 1045 login, 1142 table, 1227 a privilege such as FILE or SUPER, 1095 another's thread).
PG_DENIED = {"42501"}
MYSQL_DENIED = {1044, 1045, 1095, 1142, 1227}


@pytest.mark.parametrize("kind", ["write", "file", "setting"])
def test_the_login_alone_refuses_writes_file_reads_and_setting_changes(fresh: Fresh, kind: str) -> None:
    """No guard, no READ ONLY transaction: a plain connection as the login that asked for read-write."""
    statements = (PG_REFUSED if fresh.dialect == "postgres" else MYSQL_REFUSED)[kind]
    before = fresh.fingerprint()
    conn = fresh.reader_connection()
    try:
        for sql in statements:
            sql = sql.format(file=fresh.file, database=fresh.database, other=fresh.other)
            refusal = _refused(fresh, conn, sql)
            code = refusal.split(" ", 1)[0]
            assert (code in PG_DENIED) if fresh.dialect == "postgres" else (int(code) in MYSQL_DENIED), (
                f"{sql!r}: {refusal}"
            )
            print(f"{fresh.dialect}: {sql[:60]:60} {refusal[:90]}")  # shown with -s
        if fresh.dialect == "mysql":  # without FILE, LOAD_FILE is no error: it reads nothing
            with conn.cursor() as cursor:
                cursor.execute("SELECT LOAD_FILE('/etc/passwd')")
                assert cursor.fetchone() == (None,)
    finally:
        conn.close()
    assert fresh.fingerprint() == before
    assert not fresh.file.exists()


def test_what_the_login_may_change_about_itself_and_what_stops_it(role_source, fresh: Fresh) -> None:
    """A login may change its own defaults (PostgreSQL) and password, which no GRANT takes away: it works on a
    plain connection as the login, and the READ ONLY transaction of the execution path refuses it (on
    MariaDB the session's ``SET SESSION TRANSACTION READ ONLY``: ``SET PASSWORD`` commits the transaction it
    is in first). The guard refuses it too."""
    if fresh.dialect == "postgres":
        change = f"ALTER ROLE {fresh.reader} SET statement_timeout = 0"
        undo = f"ALTER ROLE {fresh.reader} RESET statement_timeout"
        read_only = "25006"  # read_only_sql_transaction
    else:
        change = f"SET PASSWORD = PASSWORD('{fresh.password}')"  # the same password: nothing is locked out
        undo = "DO 0"
        read_only = "1792"  # Cannot execute statement in a READ ONLY transaction
    conn = fresh.reader_connection()
    try:
        for sql in (change, undo):  # the login alone may
            if fresh.dialect == "postgres":
                conn.execute(sql)
            else:
                with conn.cursor() as cursor:
                    cursor.execute(sql)
    finally:
        conn.close()
    conn = server_engine(role_source).connect_read_only(5)
    try:
        assert _refused(fresh, conn, change).startswith(read_only)
    finally:
        conn.close()
    with pytest.raises(GuardError):
        check_sql(change, allowed_tables={"orders": ["order_id", "status", "amount"]}, target=fresh.dialect)
