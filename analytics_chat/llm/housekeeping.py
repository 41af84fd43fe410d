"""Saved prompt prefixes go when what their prompts were built from changes.

A source's prompts are rendered from its catalog (tables, columns, relationships) and its semantic layer
(metrics, dimensions, statements). A change makes new prompts, so the old prefixes on disk are never read
again: they are removed once the change is committed, one pass per source and transaction however many
rows a sync or an import saved.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .files import forget_prefix_files

log = logging.getLogger(__name__)


def source_names_of(instance: Any) -> list[str]:
    """The names of the sources whose prompts a catalog or semantic row is part of."""
    from catalog.models import Column, DataSource, Relationship, Table

    if isinstance(instance, DataSource):
        return [instance.name]
    if isinstance(instance, Table):
        return list(DataSource.objects.filter(pk=instance.source_id).values_list("name", flat=True))
    if isinstance(instance, Column):
        return list(DataSource.objects.filter(tables__pk=instance.table_id).values_list("name", flat=True))
    if isinstance(instance, Relationship):
        return list(
            DataSource.objects.filter(tables__columns__pk=instance.from_column_id).values_list(
                "name", flat=True
            )
        )
    source_id = getattr(instance, "source_id", None)
    everyone = DataSource.objects.all() if source_id is None else DataSource.objects.filter(pk=source_id)
    return list(everyone.values_list("name", flat=True))  # a statement for every source touches them all


class _Forget:
    """The on-commit call that forgets one source's prefixes (named, so a transaction registers one)."""

    def __init__(self, source_name: str):
        self.source_name = source_name

    def __call__(self) -> None:
        removed = forget_prefix_files(self.source_name)
        if removed:
            log.info("removed %d saved prompt prefixes of %s: its prompts changed", removed, self.source_name)


def forget_when_committed(sender: type, instance: Any, **_kwargs: Any) -> None:
    """post_save/post_delete: forget the saved prefixes of the instance's sources after the commit."""
    try:
        names = source_names_of(instance)
    except Exception:  # the rows it points to went first (a cascade): the source's own delete covers it
        return
    # Django keeps this transaction's callbacks as (savepoint ids, callable, robust); a rollback drops them.
    connection = transaction.get_connection()
    pending = {getattr(entry[1], "source_name", None) for entry in connection.run_on_commit}
    for name in names:
        if name not in pending:
            transaction.on_commit(_Forget(name))


def connect() -> None:
    from catalog.models import Column, DataSource, Relationship, Table
    from semantic.models import Dimension, Metric, SemanticStatement

    for model in (DataSource, Table, Column, Relationship, Metric, Dimension, SemanticStatement):
        uid = f"forget-prefixes-{model.__name__}"
        post_save.connect(forget_when_committed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(forget_when_committed, sender=model, dispatch_uid=f"{uid}-delete")
