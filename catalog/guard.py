"""The SQL guard: only one read-only query on the caller's tables and columns reaches DuckDB.

Model-written SQL is hostile input. The guard works on the sqlglot AST, never on text, and
accepts only what it positively recognises: a single query whose every node and function is on
an allow-list, whose FROM items are plain catalog tables, CTEs, subqueries or VALUES, and whose
columns resolve (through sqlglot's qualify/scope machinery) to columns the caller may see.
Stars are expanded to the visible columns, so the SQL to run is `GuardedQuery.sql`, not the input.

The locked-down connection in catalog/execution.py is the second, independent layer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from catalog.transpile import TranspileError, dialect_name, function_label, render, unsupported_function

logger = logging.getLogger(__name__)

# Error codes: stable strings that callers and tests can match on.
PARSE_ERROR = "parse_error"
TOO_LONG = "too_long"
EMPTY = "empty"
MULTIPLE_STATEMENTS = "multiple_statements"
NOT_A_QUERY = "not_a_query"
FORBIDDEN_CONSTRUCT = "forbidden_construct"
FUNCTION_NOT_ALLOWED = "function_not_allowed"
TABLE_FUNCTION = "table_function"
FILE_PATH = "file_path"
TABLE_NOT_ALLOWED = "table_not_allowed"
COLUMN_NOT_ALLOWED = "column_not_allowed"

# Generated SQL is short; anything far longer is an attack or a runaway model.
MAX_SQL_CHARS = 20_000
# Unqualified table names may carry this schema (DuckDB's default); any other schema or catalog is refused.
DEFAULT_SCHEMA = "main"


class GuardError(Exception):
    """Raised when SQL is refused; `code` is one of the constants above, `message` names the culprit."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class GuardedQuery:
    """A query that passed the guard. Run `sql` (stars expanded, columns qualified), not the input."""

    expression: exp.Expr
    sql: str
    tables: frozenset[str]


def _classes(*names: str) -> frozenset[type]:
    # Resolved by name so that a class missing from another sqlglot version is simply not allowed.
    return frozenset(getattr(exp, name) for name in names if hasattr(exp, name))


# Top-level and nested statements that are never queries (checked first, for a precise error code).
STATEMENT_TYPES = _classes(
    "DDL", "DML", "Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Copy", "Command",
    "Set", "Pragma", "Use", "Transaction", "Commit", "Rollback", "Describe", "Show", "Summarize",
    "Attach", "Detach", "Install", "Analyze", "Cache", "Uncache", "Refresh", "LoadData", "TruncateTable",
    "Grant", "Revoke", "Into", "Kill", "Export",
)  # fmt: skip

# Non-function syntax a read-only analytics query is made of. Binary and unary operators are
# allowed as families (arithmetic, comparison, bitwise, string concatenation).
ALLOWED_NODES = _classes(
    "Select", "Union", "Intersect", "Except", "Subquery", "Values", "With", "CTE", "From", "Join",
    "Where", "Group", "Having", "Qualify", "Order", "Ordered", "Limit", "Offset", "Fetch", "Distinct",
    "Lateral", "Table", "TableAlias", "Alias", "Column", "Identifier", "Star", "Tuple", "Window",
    "WindowSpec", "Cube", "Rollup", "GroupingSets", "Literal", "Null", "Boolean", "DataType",
    "DataTypeParam", "Interval", "IntervalSpan", "Var", "Bracket", "Lambda", "Between", "In", "Any",
    "All", "Filter", "WithinGroup", "IgnoreNulls", "RespectNulls", "HavingMax", "TableSample",
    "JSONPath", "JSONPathKey", "JSONPathRoot", "JSONPathSubscript", "JSONPathWildCard", "JSONPathSlice",
    "HexString", "BitString", "ByteString", "National", "RawString", "ColumnPosition", "PseudoType",
    "Heredoc", "UnicodeString",
)  # fmt: skip
ALLOWED_NODE_FAMILIES = (exp.Binary, exp.Unary)

# Functions sqlglot models as classes: aggregates, math, string, date/time, casts, conditionals,
# window functions, lists/structs/JSON values. Nothing that reads files, URLs, settings or metadata.
ALLOWED_FUNCTIONS = _classes(
    # logic and conditionals
    "And", "Or", "Xor", "Case", "If", "Coalesce", "Nullif", "Nvl2", "Greatest", "Least", "Exists",
    "EqualNull", "Decode", "DecodeCase",
    # casts and types
    "Cast", "TryCast", "CastToStrType", "Typeof", "Collate",
    # aggregates
    "Count", "CountIf", "Sum", "Avg", "Min", "Max", "Median", "Mode", "AnyValue", "First", "Last",
    "ArgMax", "ArgMin", "ApproxDistinct", "ApproxQuantile", "ApproxTopK", "ArrayAgg", "GroupConcat",
    "Stddev", "StddevPop", "StddevSamp", "Variance", "VariancePop", "Corr", "CovarPop", "CovarSamp",
    "Kurtosis", "Skewness", "Quantile", "PercentileCont", "PercentileDisc", "LogicalAnd", "LogicalOr",
    "BitwiseAndAgg", "BitwiseOrAgg", "BitwiseXorAgg", "RegrAvgx", "RegrAvgy", "RegrCount",
    "RegrIntercept", "RegrR2", "RegrSlope", "RegrSxx", "RegrSxy", "RegrSyy", "Grouping", "GroupingId",
    # window functions
    "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag", "Lead", "FirstValue",
    "LastValue", "NthValue",
    # math
    "Abs", "Ceil", "Floor", "Round", "Trunc", "Sign", "Sqrt", "Cbrt", "Exp", "Ln", "Log", "Pow",
    "Pi", "Degrees", "Radians", "Sin", "Cos", "Tan", "Cot", "Asin", "Acos", "Atan", "Atan2", "Sinh",
    "Cosh", "Tanh", "Asinh", "Acosh", "Atanh", "Factorial", "IsInf", "IsNan", "Rand", "SafeDivide",
    "WidthBucket",
    # strings
    "Lower", "Upper", "Length", "BitLength", "ByteLength", "Substring", "Left", "Right", "Trim", "Pad",
    "Concat", "ConcatWs", "Replace", "Reverse", "Repeat", "Split", "SplitPart", "StrPosition",
    "StartsWith", "EndsWith", "Contains", "Initcap", "Ascii", "Chr", "Unicode", "Translate", "Format",
    "Levenshtein", "JarowinklerSimilarity", "RegexpLike", "RegexpILike", "RegexpFullMatch",
    "RegexpExtract", "RegexpExtractAll", "RegexpReplace", "RegexpSplit", "RegexpCount", "Soundex",
    "MD5", "SHA", "SHA2", "Hex", "Unhex", "LowerHex", "ToBase64", "FromBase64", "Uuid", "ToChar",
    "NumberToStr", "ToNumber", "Space", "Overlay",
    # dates and times
    "CurrentDate", "CurrentTime", "CurrentTimestamp", "CurrentDatetime", "Localtime", "Localtimestamp",
    "Date", "Time", "Timestamp", "Datetime", "DateTrunc", "TimestampTrunc", "DatetimeTrunc", "TimeTrunc",
    "DateAdd", "DateSub", "DateDiff", "DatetimeAdd", "DatetimeSub", "DatetimeDiff", "TimestampAdd",
    "TimestampSub", "TimestampDiff", "TimeAdd", "TimeSub", "TimeDiff", "DateBin", "Extract", "Year",
    "Quarter", "Month", "Week", "WeekOfYear", "Day", "DayOfMonth", "DayOfWeek", "DayOfWeekIso",
    "DayOfYear", "Hour", "Minute", "Second", "Dayname", "Monthname", "LastDay", "AddMonths",
    "MonthsBetween", "DateFromParts", "TimeFromParts", "TimestampFromParts", "MakeInterval", "ToDays",
    "StrToDate", "StrToTime", "TimeToStr", "TimeStrToTime", "TimeStrToDate", "DateStrToDate",
    "DateToDateStr", "TsOrDsToDate", "TsOrDsToTimestamp", "TsOrDsAdd", "TsOrDsDiff", "UnixToTime",
    "TimeToUnix", "UnixSeconds", "UnixMillis", "UnixMicros", "YearOfWeek", "YearOfWeekIso",
    "ConvertTimezone", "JustifyDays", "JustifyHours", "JustifyInterval",
    # lists, maps, structs
    "Array", "ArraySize", "ArrayContains", "ArrayContainsAll", "ArrayOverlaps", "ArrayConcat",
    "ArrayDistinct", "ArraySort", "ArrayReverse", "ArrayFilter", "ArrayToString", "ArrayPosition",
    "ArraySlice", "ArrayIntersect", "ArrayMax", "ArrayMin", "ArraySum", "ArrayFirst", "ArrayLast",
    "ArrayAppend", "ArrayPrepend", "ArrayAll", "ArrayAny", "Transform", "Flatten", "Explode", "Unnest",
    "GenerateSeries", "Struct", "StructExtract", "Map", "MapFromEntries", "MapKeys", "VarMap",
    "StringToArray",
    # JSON values (not files)
    "JSONExtract", "JSONExtractScalar", "JSONArray", "JSONObject", "JSONKeys", "JSONType", "ParseJSON",
    "JSONFormat", "JSONStripNulls",
)  # fmt: skip

# DuckDB functions sqlglot does not model (they parse as exp.Anonymous), by lowercase name.
ALLOWED_ANONYMOUS = frozenset(
    """
    age century date_part datepart date_sub datesub decade epoch_ns epoch_us epoch_ms era isoyear
    julian microsecond millisecond millennium nanosecond now weekday yearweek days_in_month ago
    timezone timezone_hour timezone_minute make_timestamp_ms make_timestamptz try_strptime
    to_years to_months to_weeks to_hours to_minutes to_seconds to_milliseconds to_microseconds
    to_centuries to_decades to_millennia to_quarters get_current_timestamp transaction_timestamp
    isfinite gamma lgamma gcd lcm greatest_common_divisor least_common_multiple even nextafter
    round_even roundbankers signbit bit_count fdiv fmod divide add subtract multiply
    strip_accents nfc_normalize length_grapheme left_grapheme right_grapheme substring_grapheme
    octet_length ord printf strlen prefix suffix jaccard jaro_similarity hamming mismatches
    damerau_levenshtein regexp_split_to_array regexp_escape format_bytes formatreadablesize
    formatreadabledecimalsize ilike_escape like_escape not_like_escape not_ilike_escape
    list_aggr list_aggregate list_apply list_cat list_element list_extract list_has_all list_has_any
    list_indexof list_position list_reduce list_resize list_select list_slice list_unique list_where
    list_zip list_pack list_sum list_avg list_count list_first list_last list_median list_mode
    list_product list_reverse list_string_agg list_min list_max list_any_value list_bool_and
    list_bool_or list_stddev_samp list_stddev_pop list_var_samp list_var_pop list_approx_count_distinct
    list_grade_up array_aggr array_aggregate array_apply array_extract array_has_any array_indexof
    array_reduce array_resize array_select array_transform array_unique array_value array_where
    array_zip array_grade_up array_pop_back array_pop_front array_push_back array_push_front
    cardinality element_at map_concat map_contains map_entries map_extract map_extract_value
    map_values struct_keys struct_values struct_has struct_contains row
    json_array_length json_valid json_value json_exists json_contains json_structure
    arbitrary mean product entropy favg fsum kahan_sum sumkahan kurtosis_pop mad sem
    reservoir_quantile geomean geometric_mean wavg weighted_avg count_star histogram
    arg_max_null arg_min_null
    """.split()  # noqa: SIM905 - a word list is easier to review than 190 quoted strings
)

# Of those, the ones a server has too, with the same meaning; any other name would reach the server
# verbatim (sqlglot does not translate what it does not model) and mean something else or nothing there.
SERVER_ANONYMOUS = {
    "postgres": frozenset(
        "now age gcd lcm octet_length isfinite date_part datepart transaction_timestamp cardinality".split()  # noqa: SIM905
    ),
    "mysql": frozenset("now octet_length date_part datepart".split()),  # noqa: SIM905
}

# What the server must never be asked, checked once more on the SQL as the server will read it: files,
# programs, other servers, sleeping, locks, sequences, settings, sessions, the server's own identity and
# anything that runs SQL given as text. The allow-lists above already keep all of it out; this list is
# for the case where a translation turns an allowed function into one of these.
SERVER_REFUSED_PREFIXES = {
    "postgres": ("pg_", "lo_", "dblink", "query_to_xml", "table_to_xml", "cursor_to_xml", "database_to_xml",
                 "schema_to_xml", "xml", "txid_", "set_", "current_setting", "brin_", "gin_"),
    "mysql": ("load_", "sys_", "master_", "source_", "release_", "is_free_", "is_used_", "get_lock",
              "benchmark", "sleep", "wait_for_", "json_table"),
}  # fmt: skip
SERVER_REFUSED_NAMES = {
    "postgres": frozenset(
        """sleep nextval setval currval lastval version inet_server_addr inet_server_port inet_client_addr
        current_user session_user user current_role current_database current_schema current_schemas
        current_catalog has_table_privilege lo_import lo_export copy dblink_exec""".split()  # noqa: SIM905
    ),
    "mysql": frozenset(
        """load_file sleep benchmark get_lock release_lock release_all_locks is_free_lock is_used_lock
        master_pos_wait source_pos_wait master_gtid_wait sys_exec sys_eval user current_user session_user
        system_user database schema version connection_id last_insert_id found_rows row_count uuid_short
        current_role load_data""".split()  # noqa: SIM905
    ),
}
# Nodes that, in a server's own reading of the SQL, mean a file, a variable, a lock or a second statement.
SERVER_REFUSED_NODES = _classes(
    "Into", "SessionParameter", "Parameter", "Placeholder", "Lock", "Command", "SetItem", "Set",
    "Transaction", "Commit", "Rollback", "DDL", "DML", "Copy", "LoadData", "Kill",
)  # fmt: skip

# Names of DuckDB/PostgreSQL/SQLite system catalogs, refused even when the table check is skipped.
_SYSTEM_PREFIXES = ("duckdb_", "pg_", "sqlite_", "pragma_", "information_schema")
# Schemas of a MySQL/MariaDB server's own state.
_SERVER_SCHEMAS = ("mysql.", "performance_schema.", "sys.")
# A table "name" with any of these is a file path, URL or glob that DuckDB would read directly.
_PATH_CHARACTERS = frozenset("./\\:*?~%")


def check_sql(
    sql: str,
    *,
    allowed_tables: Mapping[str, Collection[str]] | None,
    dialect: str = "duckdb",
    target: str = "duckdb",
) -> GuardedQuery:
    """Return the parsed, normalised query if `sql` is one read-only query within the caller's scope.

    `allowed_tables` maps table name to the column names the caller may see, matched without regard
    to case; pass the catalog's spelling and order (a list) so that result columns keep their names
    and `*` expands in table order. None skips the table and column check: internal queries only.
    `target` is the dialect of the engine that will run it (``DataSource.dialect``): a server source
    allows only the functions that mean the same there (``SERVER_ANONYMOUS``, ``transpile.UNSUPPORTED``).
    Raises GuardError naming what was refused. Execute `GuardedQuery.sql`, never the input.
    """
    if not isinstance(sql, str):
        raise GuardError(PARSE_ERROR, f"SQL must be a string, not {type(sql).__name__}")
    if len(sql) > MAX_SQL_CHARS:
        raise GuardError(TOO_LONG, f"SQL is {len(sql)} characters, over the limit of {MAX_SQL_CHARS}")
    try:
        guarded = _check(sql, allowed_tables, dialect)
        check_target(guarded.expression, target)
        return guarded
    except GuardError:
        raise
    except Exception as error:
        # Fail closed: an input that trips up the analysis is refused, and logged so it can be fixed.
        logger.exception("SQL guard could not analyse a query")
        raise GuardError(PARSE_ERROR, f"query could not be analysed ({type(error).__name__})") from error


def _check(sql: str, allowed_tables: Mapping[str, Collection[str]] | None, dialect: str) -> GuardedQuery:
    statement = _parse_single_statement(sql, dialect)
    _check_root(statement)
    _check_nodes(statement)
    if allowed_tables is None:
        _check_sources(statement, None)
        return GuardedQuery(statement, _render(statement, dialect), _base_table_names(statement))

    visible = {table.lower(): _ordered_lower(columns) for table, columns in allowed_tables.items()}
    _check_sources(statement, visible)
    qualified = _qualify(statement, visible, dialect)
    # Re-check what will actually run: qualify rewrote the tree.
    _check_nodes(qualified)
    _check_sources(qualified, visible)
    _check_columns(qualified, visible)
    _restore_output_names(statement, qualified, _catalog_spellings(allowed_tables))
    return GuardedQuery(qualified, _render(qualified, dialect), _base_table_names(qualified))


def check_target(statement: exp.Expr, target: str) -> None:
    """Refuse what the target server has no faithful form of, checked on the AST before transpiling.

    For DuckDB there is nothing more to check. For a server, every anonymous function must be one the
    server has with the same meaning, and the tree must transpile (sqlglot's unsupported constructs
    and ``transpile.UNSUPPORTED`` refused); the SQL as the server reads it is checked by
    ``check_server_sql``."""
    if target == "duckdb":
        return
    allowed = SERVER_ANONYMOUS.get(target)
    if allowed is None:
        raise GuardError(NOT_A_QUERY, f"unknown target dialect {target!r}")
    for node in statement.walk():
        if isinstance(node, exp.Anonymous) and node.name.lower() not in allowed:
            raise GuardError(
                FUNCTION_NOT_ALLOWED,
                f"function {node.name.lower()}() is not available on {dialect_name(target)}",
            )
    lacking = unsupported_function(statement, target)
    if lacking is not None:
        raise GuardError(
            FUNCTION_NOT_ALLOWED,
            f"function {function_label(lacking)} is not available on {dialect_name(target)}",
        )
    try:
        render(statement, target)
    except TranspileError as error:
        raise GuardError(FORBIDDEN_CONSTRUCT, str(error)) from error


def check_server_sql(sql: str, target: str) -> None:
    """The second look, at the text the server will run, parsed as the server reads it: exactly one
    query, and no function, variable, file target or lock of ``SERVER_REFUSED_*``. Fails closed."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=target) if s is not None]
    except (SqlglotError, RecursionError, ValueError, TypeError) as error:
        raise GuardError(
            PARSE_ERROR, f"the {dialect_name(target)} SQL could not be checked: {_first_line(error)}"
        ) from error
    if len(statements) != 1:
        raise GuardError(MULTIPLE_STATEMENTS, f"exactly one statement allowed, got {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query | exp.Values):
        raise GuardError(NOT_A_QUERY, f"only queries are allowed, got {_snippet(statement)!r}")
    prefixes = SERVER_REFUSED_PREFIXES.get(target, ())
    names = SERVER_REFUSED_NAMES.get(target, frozenset())
    for node in statement.walk():
        if isinstance(node, tuple(SERVER_REFUSED_NODES)):
            raise GuardError(FORBIDDEN_CONSTRUCT, f"{type(node).__name__} ({_snippet(node)}) is not allowed")
        if isinstance(node, exp.Func):
            name = node.name.lower() if isinstance(node, exp.Anonymous) else _function_name(node)
            if name in names or name.startswith(prefixes):
                raise GuardError(FUNCTION_NOT_ALLOWED, f"function {name}() is not allowed")
        if isinstance(node, exp.Table) and table_key(node).startswith(_SYSTEM_PREFIXES + _SERVER_SCHEMAS):
            raise GuardError(TABLE_NOT_ALLOWED, f"system table {_snippet(node)} is not allowed")


def qualify_names(statement: exp.Expr, allowed_tables: Mapping[str, Collection[str]]) -> exp.Expr:
    """``statement`` with every column qualified by its table and every star expanded, output names kept
    as DuckDB would give them: the resolution ``check_sql`` does, without its checks (trusted SQL too)."""
    visible = {table.lower(): _ordered_lower(columns) for table, columns in allowed_tables.items()}
    qualified = _qualify(statement, visible, "duckdb")
    _restore_output_names(statement, qualified, _catalog_spellings(allowed_tables))
    return qualified


def _render(statement: exp.Expr, dialect: str) -> str:
    # Comments are dropped: nothing the model wrote reaches DuckDB except the checked tree.
    return statement.sql(dialect=dialect, comments=False)


def _parse_single_statement(sql: str, dialect: str) -> exp.Expr:
    try:
        parsed = sqlglot.parse(sql, read=dialect)
        # A trailing `;` or a comment after the last `;` parses as None or an empty Semicolon.
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except SqlglotError as error:
        raise GuardError(PARSE_ERROR, f"SQL could not be parsed: {_first_line(error)}") from error
    except (RecursionError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
        # sqlglot's parser occasionally fails on garbage with a plain Python error; still a refusal.
        raise GuardError(PARSE_ERROR, f"SQL could not be parsed ({type(error).__name__})") from error
    if not statements:
        raise GuardError(EMPTY, "no SQL statement given")
    if len(statements) > 1:
        raise GuardError(MULTIPLE_STATEMENTS, f"exactly one statement allowed, got {len(statements)}")
    return statements[0]


def _check_root(statement: exp.Expr) -> None:
    if isinstance(statement, exp.Command):
        raise GuardError(NOT_A_QUERY, f"{_command_name(statement)} statements are not allowed, only queries")
    if isinstance(statement, tuple(STATEMENT_TYPES)):
        raise GuardError(
            NOT_A_QUERY, f"{_statement_name(statement)} statements are not allowed, only queries"
        )
    if not isinstance(statement, exp.Query | exp.Values):
        raise GuardError(NOT_A_QUERY, f"only queries are allowed, got {_snippet(statement)!r}")


def _check_nodes(statement: exp.Expr) -> None:
    """Every node must be allow-listed syntax or an allow-listed function."""
    for node in statement.walk():
        if isinstance(node, tuple(STATEMENT_TYPES)):
            raise GuardError(NOT_A_QUERY, f"{_statement_name(node)} is not allowed inside a query")
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name not in ALLOWED_ANONYMOUS:
                raise GuardError(FUNCTION_NOT_ALLOWED, f"function {name}() is not allowed")
        elif isinstance(node, exp.Func):
            if type(node) not in ALLOWED_FUNCTIONS:
                raise GuardError(FUNCTION_NOT_ALLOWED, f"function {_function_name(node)}() is not allowed")
        elif isinstance(node, exp.TableColumn):
            # DuckDB reads a bare table name in SELECT as the whole row, hidden columns included.
            raise GuardError(COLUMN_NOT_ALLOWED, f"{node.name} is a table, not a column")
        elif type(node) not in ALLOWED_NODES and not isinstance(node, ALLOWED_NODE_FAMILIES):
            raise GuardError(FORBIDDEN_CONSTRUCT, f"{type(node).__name__} ({_snippet(node)}) is not allowed")
        if isinstance(node, exp.Select) and not node.expressions:
            raise GuardError(PARSE_ERROR, "SELECT has no columns")
        if isinstance(node, exp.Join) and (node.method or "").upper() == "NATURAL":
            # A natural join matches on every shared column, hidden ones included.
            raise GuardError(FORBIDDEN_CONSTRUCT, "NATURAL JOIN is not allowed; name the join columns")


def _check_sources(statement: exp.Expr, allowed_tables: Mapping[str, Collection[str]] | None) -> None:
    """FROM/JOIN items are plain tables, CTEs, subqueries or VALUES; base tables are in scope."""
    for node in statement.find_all(exp.From, exp.Join, exp.Lateral):
        source = node.this
        if isinstance(node, exp.Lateral) or isinstance(source, exp.Lateral):
            inner = source.this if isinstance(source, exp.Lateral) else source
            if not isinstance(inner, exp.Subquery | exp.Select):
                raise GuardError(TABLE_FUNCTION, f"LATERAL {_snippet(inner)} is not allowed, only subqueries")
        elif not isinstance(source, exp.Table | exp.Subquery | exp.Values):
            raise GuardError(TABLE_FUNCTION, f"table function {_snippet(source)} is not allowed in FROM")

    seen_tables: set[int] = set()
    for scope in _scopes(statement):
        for table in scope.tables:
            seen_tables.add(id(table))
            _check_table_expression(table)
            source = scope.sources.get(table.alias_or_name)
            if _is_cte_reference(table, source):
                continue
            if source is not table:
                raise GuardError(TABLE_NOT_ALLOWED, f"table {table.sql()} could not be resolved")
            _check_base_table(table, allowed_tables)
    for table in statement.find_all(exp.Table):
        if id(table) not in seen_tables:
            # Not reached by scope analysis, so it cannot be checked: refuse rather than guess.
            raise GuardError(TABLE_NOT_ALLOWED, f"table {_snippet(table)} is not allowed here")


def _is_cte_reference(table: exp.Table, source: exp.Table | Scope | None) -> bool:
    """True when `table` names a CTE of this or an enclosing scope (DuckDB prefers the CTE too)."""
    if not isinstance(source, Scope) or not source.is_cte or table.db or table.catalog:
        return False
    cte = source.expression.parent
    while isinstance(cte, exp.SetOperation):  # a recursive CTE refers to its anchor branch
        cte = cte.parent
    return isinstance(cte, exp.CTE) and cte.alias.lower() == table.name.lower()


def _check_table_expression(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise GuardError(TABLE_FUNCTION, f"table function {_snippet(table.this)} is not allowed in FROM")
    for part in table.parts:
        if not isinstance(part, exp.Identifier):
            raise GuardError(TABLE_NOT_ALLOWED, f"table name {_snippet(table)} is not a plain name")
    name = table.name
    if _PATH_CHARACTERS.intersection(name) or name != name.strip() or not name:
        raise GuardError(
            FILE_PATH, f"{name!r} looks like a file path or URL; only catalog tables are allowed"
        )


def _check_base_table(table: exp.Table, allowed_tables: Mapping[str, Collection[str]] | None) -> None:
    full_name = ".".join(part.name for part in table.parts)
    if table.catalog:
        raise GuardError(TABLE_NOT_ALLOWED, f"table {full_name} is outside the data source")
    key = table_key(table)
    if allowed_tables is None:
        if table.db or key.startswith(_SYSTEM_PREFIXES):
            raise GuardError(
                TABLE_NOT_ALLOWED, f"system or schema-qualified table {full_name} is not allowed"
            )
        return
    if key not in allowed_tables:
        raise GuardError(TABLE_NOT_ALLOWED, f"table {full_name} is not in your scope")


def table_key(table: exp.Table) -> str:
    """`orders` and `main.orders` are `orders`; a table in another schema is `schema.table` (as in the catalog)."""
    schema = table.db.lower()
    name = table.name.lower()
    return name if schema in ("", DEFAULT_SCHEMA) else f"{schema}.{name}"


def _qualify(statement: exp.Expr, visible: Mapping[str, list[str]], dialect: str) -> exp.Expr:
    # Types are irrelevant to the guard; qualify only needs names (and their order, to expand *).
    # sqlglot wants one nesting depth, so tables are keyed by schema when any catalog name has one.
    schema: dict[str, Any] = {}
    for key, columns in visible.items():
        schema_name, _, table_name = key.rpartition(".")
        schema.setdefault(schema_name or DEFAULT_SCHEMA, {})[table_name] = dict.fromkeys(columns, "UNKNOWN")
    nested = set(schema) != {DEFAULT_SCHEMA}
    if not nested:
        schema = schema[DEFAULT_SCHEMA]
    try:
        return qualify(
            statement.copy(),
            schema=schema,
            db=DEFAULT_SCHEMA if nested else None,
            dialect=dialect,
            validate_qualify_columns=True,
            identify=False,
        )
    except OptimizeError as error:
        raise GuardError(COLUMN_NOT_ALLOWED, f"{_first_line(error)} (not a visible column)") from error
    except (SqlglotError, RecursionError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise GuardError(PARSE_ERROR, f"query could not be analysed: {_first_line(error)}") from error


def _check_columns(statement: exp.Expr, visible: Mapping[str, list[str]]) -> None:
    """Every column must resolve to a visible column of a base table or an output of a CTE/subquery."""
    seen_columns: set[int] = set()
    for scope in _scopes(statement):
        for star in _projected_stars(scope):
            raise GuardError(COLUMN_NOT_ALLOWED, f"{star.sql()} could not be expanded to visible columns")
        for column in scope.columns:
            seen_columns.add(id(column))
            _check_column(column, scope, visible)
    for column in statement.find_all(exp.Column):
        if id(column) in seen_columns or isinstance(column.this, exp.Star) or _is_order_by_alias(column):
            continue
        if column.table:
            raise GuardError(COLUMN_NOT_ALLOWED, f"column {column.sql()} could not be resolved")
        raise GuardError(COLUMN_NOT_ALLOWED, f"column {column.sql()} is not a visible column")


def _check_column(column: exp.Column, scope: Scope, visible: Mapping[str, list[str]]) -> None:
    name = column.name.lower()
    if not column.table:
        # After qualify an unqualified column can only be an output alias used in ORDER BY.
        if _is_order_by_alias(column):
            return
        raise GuardError(COLUMN_NOT_ALLOWED, f"column {column.sql()} is not a visible column")
    source = _resolve_source(scope, column.table)
    if isinstance(source, exp.Table):
        if column.catalog or column.db:
            raise GuardError(COLUMN_NOT_ALLOWED, f"column {column.sql()} is outside the data source")
        if name not in visible.get(table_key(source), ()):
            raise GuardError(COLUMN_NOT_ALLOWED, f"column {source.name}.{name} is not a visible column")
    elif source is None:
        raise GuardError(COLUMN_NOT_ALLOWED, f"column {column.sql()} refers to an unknown table")


def _is_order_by_alias(column: exp.Column) -> bool:
    """True for a bare `ORDER BY alias` term of the query itself.

    DuckDB resolves only a bare ORDER BY name to the output alias; inside an expression
    (`ORDER BY lower(alias)`), a window or an aggregate's ORDER BY, the same name means a
    table column, which may be a hidden one.
    """
    ordered = column.parent
    order = ordered.parent if isinstance(ordered, exp.Ordered) else None
    query = order.parent if isinstance(order, exp.Order) else None
    if not isinstance(query, exp.Query):
        return False
    return column.name.lower() in {alias.lower() for alias in query.named_selects}


def _resolve_source(scope: Scope | None, name: str) -> exp.Table | Scope | None:
    # Correlated subqueries refer to sources of enclosing scopes.
    while scope is not None:
        if name in scope.sources:
            return scope.sources[name]
        scope = scope.parent
    return None


def _projected_stars(scope: Scope) -> Iterator[exp.Expr]:
    """Stars left after qualify in a scope that reads a base table (they would bypass column hiding)."""
    if not isinstance(scope.expression, exp.Select):
        return
    reads_base_table = any(isinstance(source, exp.Table) for source in scope.sources.values())
    for projection in scope.expression.expressions:
        if isinstance(projection, exp.Star) and reads_base_table:
            yield projection
        is_table_star = isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        if is_table_star and isinstance(scope.sources.get(projection.table), exp.Table):
            yield projection


def _restore_output_names(original: exp.Expr, qualified: exp.Expr, spellings: Mapping[str, str]) -> None:
    """Give the result the column names DuckDB would have given the input, where they are knowable.

    qualify lowercases names and aliases unnamed expressions as `_col_N`; result headers and charts
    should not change because the guard rewrote the query. DuckDB names a plain column after the
    catalog's spelling (`name` -> `Name`) and an alias as written; an unreferenced `_col_N` is dropped.
    """
    before, after = first_select(original), first_select(qualified)
    if before is None or after is None:
        return
    referenced = {column.name.lower() for column in qualified.find_all(exp.Column) if not column.table}
    written_aliases: list[str | None] = [None] * len(after.expressions)
    if len(before.expressions) == len(after.expressions):  # no star was expanded: projections pair up
        written_aliases = [p.alias if isinstance(p, exp.Alias) else None for p in before.expressions]
    for written_alias, projection in zip(written_aliases, after.expressions, strict=True):
        if not isinstance(projection, exp.Alias):
            continue
        name = projection.alias
        if not written_alias and name.startswith("_col_"):
            if name.lower() not in referenced:
                projection.replace(projection.this)
            continue
        if isinstance(projection.this, exp.Column) and name == projection.this.name:
            name = spellings.get(name.lower(), name)
        name = written_alias or name
        if name.lower() == projection.alias.lower():
            # Only the spelling changes; DuckDB matches aliases without regard to case.
            projection.set("alias", exp.to_identifier(name))


def _catalog_spellings(allowed_tables: Mapping[str, Collection[str]]) -> dict[str, str]:
    """Lowercase column name -> the catalog's spelling, where all tables agree on one spelling."""
    spellings: dict[str, set[str]] = {}
    for columns in allowed_tables.values():
        for column in columns:
            spellings.setdefault(column.lower(), set()).add(column)
    return {lower: next(iter(names)) for lower, names in spellings.items() if len(names) == 1}


def first_select(statement: exp.Expr) -> exp.Select | None:
    """The SELECT whose projections name the result columns (the leftmost branch of a set operation)."""
    node = statement
    while isinstance(node, exp.SetOperation | exp.Subquery):
        node = node.this
    return node if isinstance(node, exp.Select) else None


def _scopes(statement: exp.Expr) -> list[Scope]:
    try:
        return traverse_scope(statement)
    except (OptimizeError, SqlglotError, RecursionError, ValueError, KeyError, AttributeError) as error:
        raise GuardError(PARSE_ERROR, f"query could not be analysed: {_first_line(error)}") from error


def _base_table_names(statement: exp.Expr) -> frozenset[str]:
    names = set()
    for scope in _scopes(statement):
        for table in scope.tables:
            if scope.sources.get(table.alias_or_name) is table:
                names.add(table_key(table))
    return frozenset(names)


def _ordered_lower(columns: Collection[str]) -> list[str]:
    # Sets have no stable order; sort them so `*` expands the same way in every process.
    ordered = sorted(columns) if isinstance(columns, set | frozenset) else list(columns)
    return list(dict.fromkeys(column.lower() for column in ordered))


def _statement_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return _command_name(node)
    key = node.key.upper()
    kind = node.args.get("kind")
    if isinstance(kind, str) and isinstance(node, exp.Create | exp.Drop | exp.Alter):
        return f"{key} {kind.upper()}"
    return key


def _command_name(node: exp.Command) -> str:
    return str(node.this).upper()


def _function_name(node: exp.Func) -> str:
    try:
        return node.sql_name().lower()
    except (NotImplementedError, ValueError):
        return type(node).__name__.lower()


def _snippet(node: exp.Expr, limit: int = 80) -> str:
    try:
        text = node.sql()
    except Exception:  # generating SQL for a malformed node must not hide the refusal
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
