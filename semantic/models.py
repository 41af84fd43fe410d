"""The semantic layer: named metrics and dimensions over a source's tables, and business rules in words.

Metrics and dimensions store the *name* of the table they are based on, not a foreign key to
catalog.Table, so that re-syncing a source (which may drop and re-create tables) never deletes them.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from sqlglot import exp

from catalog.models import DataSource

TIME_GRAINS = ["day", "week", "month", "quarter", "year"]
# Parts of a date rather than periods: any time dimension with a day grain can be grouped by them.
DATE_PARTS = ["weekday", "month_of_year"]


def grains_of(time_grains: list[str]) -> list[str]:
    """A time dimension's grains, with the date parts its days allow."""
    return [*time_grains, *(DATE_PARTS if "day" in time_grains else [])]


# Names become output column names of compiled queries, so they must be plain SQL identifiers.
identifier_validator = RegexValidator(
    r"^[a-z][a-z0-9_]*$", "Use lower-case letters, digits and underscores, starting with a letter."
)


def parse_error_message(error: sqlglot.errors.ParseError) -> str:
    """sqlglot's first parse error in plain words (its own message carries terminal colour codes)."""
    first = error.errors[0] if error.errors else {}
    where = f" (line {first['line']}, column {first['col']})" if first.get("line") else ""
    return f"{first.get('description') or 'cannot parse'}{where}"


def _parse_sql(text: str, field: str) -> exp.Expr:
    try:
        return sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise ValidationError({field: f"Not valid DuckDB SQL: {parse_error_message(error)}"}) from error


def _check_string_list(value: Any, field: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValidationError({field: "Must be a list of non-empty strings."})


class Metric(models.Model):
    class Format(models.TextChoices):
        NUMBER = "number", "number"
        CURRENCY = "currency", "currency"
        PERCENT = "percent", "percent"

    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=100, validators=[identifier_validator])
    label = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    synonyms = models.JSONField(default=list, blank=True, help_text='Other words for it, e.g. ["sales"].')
    expression = models.TextField(
        help_text="An aggregate, e.g. SUM(order_items.quantity * order_items.unit_price)."
    )
    table = models.CharField(max_length=255, help_text="The table whose rows the aggregate runs over.")
    filter = models.TextField(blank=True, help_text="Optional predicate, e.g. orders.status = 'completed'.")
    time_dimension = models.CharField(
        max_length=100,
        blank=True,
        help_text="The time dimension a time range or grain uses when a query names none.",
    )
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.NUMBER)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source__name", "name"]
        constraints = [models.UniqueConstraint(fields=["source", "name"], name="unique_metric_per_source")]

    def __str__(self) -> str:
        return self.name

    @property
    def definition(self) -> str:
        """The SQL that defines it, as a prompt shows it: "SUM(...) over rows where orders.status = ..."."""
        return self.expression + (f" over rows where {self.filter}" if self.filter else "")

    def clean(self) -> None:
        _check_string_list(self.synonyms, "synonyms")
        parsed = _parse_sql(self.expression, "expression")
        if not any(parsed.find_all(exp.AggFunc)):
            raise ValidationError(
                {"expression": "A metric must aggregate, e.g. SUM(...) or COUNT(DISTINCT ...)."}
            )
        if self.filter:
            _parse_sql(self.filter, "filter")


class Dimension(models.Model):
    class Kind(models.TextChoices):
        CATEGORICAL = "categorical", "categorical"
        TIME = "time", "time"

    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="dimensions")
    name = models.CharField(max_length=100, validators=[identifier_validator])
    label = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    synonyms = models.JSONField(default=list, blank=True)
    expression = models.TextField(help_text="A row-level expression, e.g. customers.country.")
    table = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CATEGORICAL)
    time_grains = models.JSONField(
        default=list, blank=True, help_text=f"For time dimensions: some of {TIME_GRAINS}."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source__name", "name"]
        constraints = [models.UniqueConstraint(fields=["source", "name"], name="unique_dimension_per_source")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _check_string_list(self.synonyms, "synonyms")
        parsed = _parse_sql(self.expression, "expression")
        if any(parsed.find_all(exp.AggFunc)):
            raise ValidationError(
                {"expression": "A dimension is a row-level expression; aggregates belong in metrics."}
            )
        if not isinstance(self.time_grains, list) or any(
            grain not in TIME_GRAINS for grain in self.time_grains
        ):
            raise ValidationError({"time_grains": f"Must be a list drawn from {TIME_GRAINS}."})
        if self.time_grains and self.kind != self.Kind.TIME:
            raise ValidationError({"time_grains": "Only time dimensions have time grains."})


class SemanticStatement(models.Model):
    """A business rule or definition in plain words, handed to the model when it is relevant."""

    class Scope(models.TextChoices):
        ALL = "all", "everything"
        TABLE = "table", "a table"
        COLUMN = "column", "a column"

    source = models.ForeignKey(
        DataSource,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="statements",
        help_text="Empty: applies to every source.",
    )
    name = models.CharField(
        max_length=100, validators=[identifier_validator], help_text="A stable key, used by YAML import."
    )
    text = models.TextField()
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    target = models.CharField(
        max_length=255, blank=True, help_text="The table ('orders') or column ('orders.status') it is about."
    )
    labels = models.JSONField(default=list, blank=True)
    always_include = models.BooleanField(
        default=False, help_text="Sent with every question about the source."
    )
    lookup_phrases = models.JSONField(
        default=list, blank=True, help_text="Phrases in a question that make it relevant."
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "name"],
                condition=models.Q(source__isnull=False),
                name="unique_statement_per_source",
            ),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(source__isnull=True), name="unique_global_statement"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _check_string_list(self.labels, "labels")
        _check_string_list(self.lookup_phrases, "lookup_phrases")
        if self.scope == self.Scope.ALL and self.target:
            raise ValidationError({"target": "A statement about everything has no target."})
        if self.scope == self.Scope.TABLE and (not self.target or "." in self.target):
            raise ValidationError({"target": "Name the table, e.g. 'orders'."})
        if self.scope == self.Scope.COLUMN and self.target.count(".") != 1:
            raise ValidationError({"target": "Name the column as table.column, e.g. 'orders.status'."})

    @property
    def target_table(self) -> str | None:
        return self.target.split(".")[0] if self.target else None
