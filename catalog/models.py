"""What the service knows about the data: sources, their tables and columns, and how tables join."""

from __future__ import annotations

from django.db import models

# The sqlglot dialect a source's own engine speaks; everything else is a file read through DuckDB.
SERVER_DIALECTS = {"postgresql": "postgres", "mysql": "mysql"}


class DataSource(models.Model):
    class Kind(models.TextChoices):
        DUCKDB = "duckdb", "DuckDB file"
        SQLITE = "sqlite", "SQLite file"
        CSV = "csv", "CSV file"
        PARQUET = "parquet", "Parquet file"
        FOLDER = "folder", "Folder of CSV/Parquet files"
        POSTGRESQL = "postgresql", "PostgreSQL server"
        MYSQL = "mysql", "MySQL or MariaDB server"

    class SslMode(models.TextChoices):
        # libpq's sslmode names, read the same way for MySQL/MariaDB: "prefer" uses TLS when the server
        # offers it, "require" insists without checking the certificate, "verify-*" check it too.
        DISABLE = "disable", "disable"
        PREFER = "prefer", "prefer"
        REQUIRE = "require", "require"
        VERIFY_CA = "verify-ca", "verify-ca"
        VERIFY_FULL = "verify-full", "verify-full"

    name = models.SlugField(
        max_length=100, unique=True, help_text="Used as the request's scope, e.g. 'demo' or 'demo.orders'."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    path = models.CharField(
        max_length=1024, blank=True, help_text="Absolute path of the file or folder (file sources only)."
    )
    # Server sources (PostgreSQL, MySQL/MariaDB). The password itself is never stored here: it is read
    # from the environment variable or the file named below, or left to the driver (~/.pgpass, PGPASSWORD).
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: 5432 or 3306.")
    database = models.CharField(max_length=255, blank=True)
    user = models.CharField(max_length=255, blank=True)
    schemas = models.JSONField(
        default=list,
        blank=True,
        help_text='Schemas to read, e.g. ["public"] (PostgreSQL; empty: public) or databases besides the '
        "one above (MySQL). With several, tables are named schema.table.",
    )
    ssl_mode = models.CharField(max_length=16, choices=SslMode.choices, default=SslMode.PREFER)
    password_env = models.CharField(
        max_length=255, blank=True, help_text="Name of the environment variable that holds the password."
    )
    password_file = models.CharField(
        max_length=1024, blank=True, help_text="Path of a file that holds the password (its first line)."
    )
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_server(self) -> bool:
        return self.kind in SERVER_DIALECTS

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of the engine that runs this source's queries."""
        return SERVER_DIALECTS.get(self.kind, "duckdb")


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


class UnknownSource(ValueError):
    """No enabled data source goes by that name."""


def enabled_source(source: DataSource | str) -> DataSource:
    """The enabled data source of that name (a DataSource is only checked): the one look-up of a source by
    name, for the pipeline's stages, the SQL path and schema linking alike; UnknownSource says why not."""
    if isinstance(source, str):
        found = DataSource.objects.filter(name=source).first()
        if found is None:
            raise UnknownSource(f"data source {source!r} does not exist")
        source = found
    if not source.enabled:
        raise UnknownSource(f"data source {source.name!r} is disabled")
    return source
