"""Django admin: the place to set a source up, describe its tables and columns, and check its data."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from catalog import servers
from catalog.execution import QueryError, preview_table, test_connection
from catalog.models import Column, DataSource, Relationship, Table
from catalog.snapshots import SourceError
from catalog.sync import profile_source, sync_source

# Changing any of these means the source points somewhere else: it is read again on save.
CONNECTION_FIELDS = {"path", "kind", "host", "port", "database", "user", "schemas", "ssl_mode"}

PREVIEW_ROWS = 20


class TableInline(admin.TabularInline):
    model = Table
    fields = ("name", "row_count", "enabled", "description")
    readonly_fields = ("name", "row_count")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # tables come from the source's files, via re-sync


class DataSourceForm(forms.ModelForm):
    class Meta:
        model = DataSource
        fields = "__all__"

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns (the stubs allow None)
        path, kind = cleaned.get("path"), cleaned.get("kind")
        if kind in (DataSource.Kind.POSTGRESQL, DataSource.Kind.MYSQL):
            self._clean_server(cleaned)
            return cleaned
        if not path:
            self.add_error("path", "A file source needs the path of its file or folder.")
        if path:
            resolved = Path(path).expanduser()
            if not resolved.is_absolute():
                self.add_error("path", "Give an absolute path.")
            elif not resolved.exists():
                self.add_error("path", f"{resolved} does not exist on the server.")
            elif (kind == DataSource.Kind.FOLDER) != resolved.is_dir():
                self.add_error(
                    "kind", "A folder needs the kind 'Folder of CSV/Parquet files', a file another kind."
                )
        return cleaned

    def _clean_server(self, cleaned: dict) -> None:
        for name in ("host", "database"):
            if not cleaned.get(name):
                self.add_error(name, "A server source needs this.")
        if cleaned.get("path"):
            self.add_error("path", "Leave the path empty for a server source.")
        if cleaned.get("password_env") and cleaned.get("password_file"):
            self.add_error("password_file", "Name a password variable or a password file, not both.")
        password_file = cleaned.get("password_file")
        if password_file and not Path(password_file).expanduser().is_file():
            self.add_error("password_file", f"{password_file} does not exist on the server.")
        schemas = cleaned.get("schemas")
        if schemas is not None and (
            not isinstance(schemas, list) or not all(isinstance(n, str) and n.strip() for n in schemas)
        ):
            self.add_error("schemas", 'A list of schema names, e.g. ["public"].')


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    form = DataSourceForm
    list_display = ("name", "kind", "location", "enabled", "table_count", "last_synced_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "path", "host", "database", "description")
    readonly_fields = ("last_synced_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "description", "enabled")}),
        ("File source", {"fields": ("path",)}),
        (
            "Server source (PostgreSQL, MySQL/MariaDB)",
            {
                "fields": (
                    "host",
                    "port",
                    "database",
                    "user",
                    "schemas",
                    "ssl_mode",
                    "password_env",
                    "password_file",
                ),
                "description": "The password is never stored here: name the environment variable or the "
                "file that holds it, or leave both empty to use the driver's own (~/.pgpass, PGPASSWORD). "
                "Give the service a read-only login (see the README).",
            },
        ),
        ("Sync", {"fields": ("last_synced_at", "created_at", "updated_at")}),
    )
    inlines = [TableInline]
    actions = ["test_connection", "resync", "reprofile"]

    @admin.display(description="where")
    def location(self, source: DataSource) -> str:
        return servers.describe(source) if source.is_server else source.path

    def get_queryset(self, request: HttpRequest) -> QuerySet[DataSource]:
        return super().get_queryset(request).annotate(_table_count=Count("tables"))

    @admin.display(description="tables", ordering="_table_count")
    def table_count(self, source: DataSource) -> int:
        return source._table_count  # type: ignore[attr-defined]  # annotated by get_queryset

    def save_model(
        self, request: HttpRequest, source: DataSource, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, source, form, change)
        if change and not CONNECTION_FIELDS & set(form.changed_data):
            return
        # A new or moved source is read right away, so its tables show up on the next page.
        try:
            report = sync_source(source)
            profile_source(source)
        except (QueryError, SourceError) as error:
            self.message_user(
                request, f"{source.name} was saved but could not be read: {error}", messages.ERROR
            )
        else:
            self.message_user(request, f"{source.name}: {report.summary()}", messages.SUCCESS)

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[DataSource]) -> None:
        for source in queryset:
            if not source.is_server:
                self.message_user(
                    request, f"{source.name}: a file source, nothing to connect to.", messages.INFO
                )
                continue
            try:
                found = test_connection(source)
            except QueryError as error:
                self.message_user(request, f"{source.name}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{source.name}: connected to {found}", messages.SUCCESS)

    @admin.action(description="Re-sync tables and columns")
    def resync(self, request: HttpRequest, queryset: QuerySet[DataSource]) -> None:
        for source in queryset:
            try:
                report = sync_source(source)
            except (QueryError, SourceError) as error:
                self.message_user(request, f"{source.name}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{source.name}: {report.summary()}", messages.SUCCESS)

    @admin.action(description="Re-profile")
    def reprofile(self, request: HttpRequest, queryset: QuerySet[DataSource]) -> None:
        for source in queryset:
            try:
                report = profile_source(source)
            except (QueryError, SourceError) as error:
                self.message_user(request, f"{source.name}: {error}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{source.name}: profiled {report.columns} columns of {report.tables} tables "
                    f"in {report.elapsed_ms:.0f} ms",
                    messages.SUCCESS,
                )


class ColumnInline(admin.TabularInline):
    model = Column
    fields = (
        "name",
        "data_type",
        "is_nullable",
        "is_primary_key",
        "description",
        "synonyms",
        "profile_summary",
    )
    readonly_fields = ("name", "data_type", "is_nullable", "profile_summary")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # columns come from the source's files, via re-sync

    @admin.display(description="profile")
    def profile_summary(self, column: Column) -> str:
        return profile_text(column.profile)


def profile_text(profile: dict) -> str:
    """A one-line reading of a column profile."""
    if not profile:
        return "—"
    parts = [f"{profile.get('distinct_count', '?')} distinct", f"{profile.get('null_count', '?')} null"]
    if "min" in profile:
        parts.append(f"{profile['min']} … {profile['max']}")
    if profile.get("distinct_values"):
        values = ", ".join(str(v) for v in profile["distinct_values"][:10])
        more = " …" if len(profile["distinct_values"]) > 10 else ""
        parts.append(f"values: {values}{more}")
    return "; ".join(parts)


@admin.register(Table)
class TableAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "row_count", "enabled", "column_count")
    list_filter = ("source", "enabled")
    search_fields = ("name", "description", "source__name", "columns__name")
    list_select_related = ("source",)
    fields = ("source", "name", "row_count", "enabled", "description", "preview")
    readonly_fields = ("source", "name", "row_count", "preview")
    inlines = [ColumnInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Table]:
        return super().get_queryset(request).annotate(_column_count=Count("columns"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tables come from the source's files, via re-sync

    @admin.display(description="columns", ordering="_column_count")
    def column_count(self, table: Table) -> int:
        return table._column_count  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description=f"first {PREVIEW_ROWS} rows")
    def preview(self, table: Table) -> str:
        if table.pk is None:
            return "—"
        try:
            result = preview_table(table, limit=PREVIEW_ROWS)
        except (QueryError, SourceError) as error:
            return format_html('<span class="errornote">Preview failed: {}</span>', str(error))
        # format_html/format_html_join escape every value: table data is untrusted text.
        header = format_html_join("", "<th>{}</th>", ((name,) for name in result.columns))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((_cell(v),) for v in row)),) for row in result.rows),
        )
        return format_html(
            '<div style="overflow-x:auto"><table class="catalog-preview"><thead><tr>{}</tr></thead>'
            "<tbody>{}</tbody></table></div>",
            header,
            body,
        )


def _cell(value: object) -> str:
    return "NULL" if value is None else str(value)


class OutgoingRelationshipInline(admin.TabularInline):
    model = Relationship
    fk_name = "from_column"
    fields = ("to_column", "cardinality", "inferred")
    autocomplete_fields = ("to_column",)
    extra = 0
    verbose_name = "relationship to another column"
    verbose_name_plural = "relationships to other columns"


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ("name", "table", "data_type", "is_primary_key", "is_nullable")
    list_filter = ("table__source", "is_primary_key", "data_type")
    search_fields = ("name", "description", "table__name", "table__source__name")
    list_select_related = ("table__source",)
    fields = (
        "table",
        "name",
        "ordinal",
        "data_type",
        "is_nullable",
        "is_primary_key",
        "description",
        "synonyms",
        "profile_display",
    )
    readonly_fields = ("table", "name", "ordinal", "data_type", "is_nullable", "profile_display")
    inlines = [OutgoingRelationshipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # columns come from the source's files, via re-sync

    @admin.display(description="profile")
    def profile_display(self, column: Column) -> str:
        return profile_text(column.profile)


@admin.register(Relationship)
class RelationshipAdmin(admin.ModelAdmin):
    list_display = ("__str__", "cardinality", "inferred")
    list_filter = ("inferred", "cardinality", "from_column__table__source")
    search_fields = (
        "from_column__name",
        "from_column__table__name",
        "to_column__name",
        "to_column__table__name",
    )
    autocomplete_fields = ("from_column", "to_column")
    list_select_related = ("from_column__table__source", "to_column__table__source")
