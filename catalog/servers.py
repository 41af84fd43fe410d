"""Where a server source lives and how to log in: its URL, its schemas, its password (never in the database).

A PostgreSQL or MySQL/MariaDB source names its host, port, database, user, schemas and SSL mode in the
catalog. The password is not among them: it is read when a connection opens, from the environment
variable or the file the source names, or left to the driver (``~/.pgpass``, ``PGPASSWORD``).

>>> settings = parse_url("postgresql://reader@db.internal:6543/shop?schema=sales,public&sslmode=require")
>>> settings.host, settings.port, settings.database, settings.user, settings.schemas, settings.ssl_mode
('db.internal', 6543, 'shop', 'reader', ['sales', 'public'], 'require')
>>> parse_url("mariadb://root@127.0.0.1/spider_pets").kind
'mysql'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

from catalog.models import DataSource

SCHEMES = {
    "postgresql": DataSource.Kind.POSTGRESQL,
    "postgres": DataSource.Kind.POSTGRESQL,
    "mysql": DataSource.Kind.MYSQL,
    "mariadb": DataSource.Kind.MYSQL,
}
DEFAULT_PORTS: dict[str, int] = {DataSource.Kind.POSTGRESQL: 5432, DataSource.Kind.MYSQL: 3306}
QUERY_OPTIONS = ("schema", "sslmode", "password_env", "password_file")


class ServerConfigError(ValueError):
    """A server source is not set up well enough to connect (no host, a password file that is missing...)."""


@dataclass
class ServerSettings:
    """The connection fields of a server source, as a URL gives them (``password`` only from a URL)."""

    kind: str
    host: str
    port: int | None
    database: str
    user: str
    schemas: list[str] = field(default_factory=list)
    ssl_mode: str = DataSource.SslMode.PREFER
    password_env: str = ""
    password_file: str = ""
    password: str | None = None

    def model_fields(self) -> dict[str, object]:
        """The DataSource fields these settings fill (the password is not one of them)."""
        return {
            "kind": self.kind,
            "path": "",
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "schemas": self.schemas,
            "ssl_mode": self.ssl_mode,
            "password_env": self.password_env,
            "password_file": self.password_file,
        }


def is_server_url(text: str) -> bool:
    return urlsplit(str(text)).scheme.lower() in SCHEMES


def parse_url(url: str) -> ServerSettings:
    """``postgresql://user[:password]@host[:port]/database?schema=a,b&sslmode=require&password_env=NAME``.

    ``mysql://`` and ``mariadb://`` name a MySQL/MariaDB server; there ``schema`` lists databases to read
    besides the one in the path. ``password_file=PATH`` names a file holding the password."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ServerConfigError(f"Unknown URL scheme '{parts.scheme}'; expected one of {', '.join(SCHEMES)}.")
    kind = SCHEMES[scheme]
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(QUERY_OPTIONS))
    if unknown:
        raise ServerConfigError(
            f"Unknown URL option(s) {', '.join(unknown)}; expected {', '.join(QUERY_OPTIONS)}."
        )
    option = {name: values[-1] for name, values in query.items()}
    ssl_mode = option.get("sslmode") or DataSource.SslMode.PREFER
    if ssl_mode not in DataSource.SslMode.values:
        raise ServerConfigError(
            f"Unknown sslmode '{ssl_mode}'; expected one of {', '.join(DataSource.SslMode.values)}."
        )
    try:
        port = parts.port
    except ValueError as error:
        raise ServerConfigError(f"Bad port in {redacted(url)}: {error}") from error
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname:
        raise ServerConfigError(f"No host in {redacted(url)}.")
    if not database:
        raise ServerConfigError(f"No database in {redacted(url)} (the path after the host).")
    schemas = [name.strip() for name in option.get("schema", "").split(",") if name.strip()]
    return ServerSettings(
        kind=kind,
        host=parts.hostname,
        port=port,
        database=database,
        user=unquote(parts.username or ""),
        schemas=schemas,
        ssl_mode=ssl_mode,
        password_env=option.get("password_env", ""),
        password_file=option.get("password_file", ""),
        password=unquote(parts.password) if parts.password is not None else None,
    )


def redacted(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def secrets_dir() -> Path:
    folder = Path(settings.CATALOG_SECRETS_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def store_password(source_name: str, password: str) -> Path:
    """Write a password given in a URL to a file only this user can read; the source names the file."""
    path = secrets_dir() / f"{source_name}.password"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    path.chmod(0o600)
    return path


def password_of(source: DataSource) -> str | None:
    """The source's password from its environment variable or file; None leaves it to the driver."""
    if source.password_env:
        value = os.environ.get(source.password_env)
        if value is None:
            raise ServerConfigError(
                f"Source '{source.name}' reads its password from ${source.password_env}, which is not set."
            )
        return value
    if source.password_file:
        path = Path(source.password_file).expanduser()
        try:
            lines = path.read_text().splitlines()
        except OSError as error:
            raise ServerConfigError(
                f"Source '{source.name}' reads its password from {path}: {error.strerror}."
            ) from error
        return lines[0] if lines else ""
    return None


def port_of(source: DataSource) -> int:
    return source.port or DEFAULT_PORTS[source.kind]


def schemas_of(source: DataSource) -> list[str]:
    """The schemas (PostgreSQL) or databases (MySQL) whose tables the source shows, the default one first."""
    listed = [str(name) for name in (source.schemas or []) if str(name).strip()]
    if source.kind == DataSource.Kind.MYSQL:
        return list(dict.fromkeys([source.database, *listed]))
    return listed or ["public"]


def check_settings(source: DataSource) -> None:
    """Raise ServerConfigError naming the first field a server source is missing."""
    for field_name in ("host", "database"):
        if not getattr(source, field_name):
            raise ServerConfigError(f"Source '{source.name}' has no {field_name}.")
    if source.password_env and source.password_file:
        raise ServerConfigError(
            f"Source '{source.name}' names both a password variable and a password file; keep one."
        )


def describe(source: DataSource) -> str:
    """``postgresql://reader@host:5432/shop (sales, public)``: where a server source points, no password."""
    user = f"{source.user}@" if source.user else ""
    return f"{source.kind}://{user}{source.host}:{port_of(source)}/{source.database} ({', '.join(schemas_of(source))})"
