"""A linked schema written as DDL, for the repairs' examples and cases: no catalog, no database.

``CREATE TABLE`` gives the tables and column types in order, ``REFERENCES`` (on a column or as a table's
``FOREIGN KEY``) the declared keys, and ``CHECK (col IN ('a', 'b'))`` a column whose every distinct value
the profile lists.

>>> zoo = schema('''
...     CREATE TABLE keeper (keeper_id BIGINT PRIMARY KEY, name VARCHAR);
...     CREATE TABLE animal (name VARCHAR, kind VARCHAR CHECK (kind IN ('lion', 'tiger')),
...                          keeper_id BIGINT REFERENCES keeper (keeper_id));
... ''')
>>> [(t.name, [c.name for c in t.columns]) for t in zoo.tables]
[('keeper', ['keeper_id', 'name']), ('animal', ['name', 'kind', 'keeper_id'])]
>>> zoo.joins
[Join(from_table='animal', from_column='keeper_id', to_table='keeper', to_column='keeper_id')]
>>> zoo.scope.table("animal").column("kind").profile["distinct_values"]
['lion', 'tiger']
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from analytics_chat.engine.linking import ColumnInfo, Join, LinkedSchema, SchemaView, TableInfo, link_schema


def _reference(reference: exp.Reference) -> tuple[str, str]:
    target = reference.this
    return target.this.name, target.expressions[0].name


def schema_view(ddl: str, name: str = "example") -> SchemaView:
    """The tables and keys of ``CREATE TABLE`` statements, as the catalog would load them."""
    tables: list[TableInfo] = []
    joins: list[Join] = []
    for statement in sqlglot.parse(ddl, read="duckdb"):
        if not isinstance(statement, exp.Create) or not isinstance(statement.this, exp.Schema):
            continue
        table = statement.this.this.name
        columns = []
        for part in statement.this.expressions:
            if isinstance(part, exp.ForeignKey):
                to_table, to_column = _reference(part.args["reference"])
                joins.append(Join(table, part.expressions[0].name, to_table, to_column))
                continue
            if not isinstance(part, exp.ColumnDef):
                continue
            profile, primary = {}, False
            for constraint in part.constraints:
                kind = constraint.kind
                if isinstance(kind, exp.Reference):
                    joins.append(Join(table, part.name, *_reference(kind)))
                elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                    primary = True
                elif isinstance(kind, exp.CheckColumnConstraint) and isinstance(kind.this, exp.In):
                    values = [v.this for v in kind.this.expressions]
                    profile = {"distinct_count": len(values), "distinct_values": values}
            data_type = part.args["kind"].sql(dialect="duckdb") if part.args.get("kind") else "VARCHAR"
            columns.append(ColumnInfo(part.name, data_type, is_primary_key=primary, profile=profile))
        tables.append(TableInfo(table, columns))
    return SchemaView(name, "", tables, joins)


def schema(ddl: str, question: str = "") -> LinkedSchema:
    """The DDL's tables linked to ``question``, as the SQL path hands them to the repairs."""
    return link_schema(question or "anything", schema_view(ddl), None, [])
