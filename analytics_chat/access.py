"""Which data a user may query, and turning a request's ``scope`` into a checked Scope."""

from __future__ import annotations

from django.conf import settings

from analytics_chat.pipeline.state import Scope
from catalog.models import DataSource, Table

from .models import UserScope


class ScopeError(ValueError):
    """The scope names something unknown or outside what the user may see."""


def allowed_tables(user) -> dict[str, set[str] | None]:
    """source name → the table names the user may query (None: all of that source's enabled tables)."""
    sources = {s.name for s in DataSource.objects.filter(enabled=True)}
    grant = UserScope.objects.filter(user=user).first() if user and user.is_authenticated else None
    if grant is None:
        return dict.fromkeys(sources)
    allowed: dict[str, set[str] | None] = {}
    for entry in grant.allowed:
        source, _, table = str(entry).partition(".")
        if source not in sources:
            continue
        if not table:
            allowed[source] = None
        elif (tables := allowed.setdefault(source, set())) is not None:
            tables.add(table)
    return allowed


def default_scope(user) -> str:
    grant = UserScope.objects.filter(user=user).first()
    if grant and grant.default_scope:
        return grant.default_scope
    allowed = allowed_tables(user)
    if settings.CHAT["DEFAULT_SOURCE"] in allowed or not allowed:
        return settings.CHAT["DEFAULT_SOURCE"]
    return sorted(allowed)[0]


def resolve_scope(user, scope: str | None) -> Scope:
    """'demo' | 'demo.orders' | 'demo.orders,demo.customers' → Scope, or ScopeError naming the problem."""
    text = (scope or "").strip() or default_scope(user)
    allowed = allowed_tables(user)
    source_name = ""
    tables: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, table = part.partition(".")
        if source_name and name != source_name:
            raise ScopeError(
                "A scope names one data source; narrow it with source.table entries of that source."
            )
        source_name = name
        if table:
            tables.append(table)
    if source_name not in allowed:
        raise ScopeError(f"Unknown data source {source_name!r}." if source_name else "Empty scope.")
    visible = allowed[source_name]
    enabled = set(Table.objects.filter(source__name=source_name, enabled=True).values_list("name", flat=True))
    for table in tables:
        if table not in enabled or (visible is not None and table not in visible):
            raise ScopeError(f"Unknown table {source_name}.{table!r}.")
    if not tables and visible is not None:
        tables = sorted(visible & enabled)
    return Scope(source=source_name, tables=tables)
