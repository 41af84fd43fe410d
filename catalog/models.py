"""What the service knows about the data: sources, their tables and columns, and how tables join."""

from __future__ import annotations

from django.db import models


class DataSource(models.Model):
    class Kind(models.TextChoices):
        DUCKDB = "duckdb", "DuckDB file"
        SQLITE = "sqlite", "SQLite file"
        CSV = "csv", "CSV file"
        PARQUET = "parquet", "Parquet file"
        FOLDER = "folder", "Folder of CSV/Parquet files"

    name = models.SlugField(
        max_length=100, unique=True, help_text="Used as the request's scope, e.g. 'demo' or 'demo.orders'."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    path = models.CharField(max_length=1024, help_text="Absolute path of the file or folder.")
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Table(models.Model):
    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True, help_text="Disabled tables are never shown to the model.")

    class Meta:
        ordering = ["source__name", "name"]
        constraints = [models.UniqueConstraint(fields=["source", "name"], name="unique_table_per_source")]

    def __str__(self) -> str:
        return f"{self.source.name}.{self.name}"


class Column(models.Model):
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=255)
    ordinal = models.PositiveIntegerField(default=0)
    data_type = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    synonyms = models.JSONField(default=list, blank=True, help_text="Other words people use for this column.")
    is_primary_key = models.BooleanField(default=False)
    is_nullable = models.BooleanField(default=True)
    # Filled by profiling: {"distinct_values": [...]} for low-cardinality text,
    # {"min": ..., "max": ...} for numbers and dates, plus "distinct_count" and "null_count".
    profile = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["table", "ordinal", "name"]
        constraints = [models.UniqueConstraint(fields=["table", "name"], name="unique_column_per_table")]

    def __str__(self) -> str:
        return f"{self.table}.{self.name}"


class Relationship(models.Model):
    class Cardinality(models.TextChoices):
        MANY_TO_ONE = "many_to_one", "many to one"
        ONE_TO_ONE = "one_to_one", "one to one"
        ONE_TO_MANY = "one_to_many", "one to many"
        MANY_TO_MANY = "many_to_many", "many to many"

    from_column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="outgoing_relationships")
    to_column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="incoming_relationships")
    cardinality = models.CharField(
        max_length=16, choices=Cardinality.choices, default=Cardinality.MANY_TO_ONE
    )
    inferred = models.BooleanField(default=False, help_text="Guessed from matching names, not declared.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_column", "to_column"], name="unique_relationship"),
        ]

    def __str__(self) -> str:
        return f"{self.from_column} -> {self.to_column}"
