"""gold_parity: a Spider database loaded into each server answers every gold query as its own source does,
through the pipeline's execution path and evaluate's scoring, with no model; and a copy whose data differs
is caught."""

from __future__ import annotations

import json
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from .conftest import Server

SPIDER = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "spider"
DATABASE = "pets_1"  # 3 tables, 11 questions; none sensitive to ties

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(server: Server, settings, tmp_path):
    if not (SPIDER / "db" / f"{DATABASE}.sqlite").exists():
        pytest.skip(f"the Spider sample is not at {SPIDER}")
    settings.CATALOG_SECRETS_DIR = tmp_path / "secrets"
    settings.CATALOG_CACHE_DIR = tmp_path / "catalog_cache"
    prefix = f"ac_test_{uuid.uuid4().hex[:8]}_"
    try:
        call_command(
            "load_sqlite", server.admin_url(), str(SPIDER / "db" / f"{DATABASE}.sqlite"),
            "--schema-prefix", prefix, "--source-prefix", f"{server.dialect}_", stdout=StringIO(),
        )  # fmt: skip
        yield f"{prefix}{DATABASE}"
    finally:
        schema = f"{prefix}{DATABASE}"
        conn = server.admin()
        if server.dialect == "postgres":
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.close()


def _questions() -> list[str]:
    lines = (SPIDER / "spider_dev.jsonl").read_text().splitlines()
    return [row["id"] for row in map(json.loads, lines) if row["db_id"] == DATABASE]


def test_every_gold_query_fares_on_the_server_copy_as_on_its_own_source(loaded: str, server: Server) -> None:
    ids = _questions()
    assert len(ids) == 11
    out = StringIO()
    call_command(
        "gold_parity", questions=[SPIDER / "spider_dev.jsonl"], source_prefix=f"{server.dialect}_",
        ids=",".join(ids), stdout=out,
    )  # fmt: skip
    row = next(line for line in out.getvalue().splitlines() if line.startswith("│ all"))
    # questions, same verdict, otherwise on a tie, correct on the copy, correct on its own source
    assert [cell.strip() for cell in row.split("│")[2:7]] == ["11", "11", "0", "11", "11"]

    # a copy whose data differs is told apart
    table = f'"{loaded}"."Pets"' if server.dialect == "postgres" else f"`{loaded}`.Pets"
    conn = server.admin()
    statement = f"UPDATE {table} SET weight = weight + 1, pet_age = pet_age + 1"
    if server.dialect == "postgres":
        conn.execute(statement)
    else:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    conn.close()
    with pytest.raises(
        CommandError, match=r"gold queries fare otherwise on the copy, not for a tie: pets_1-"
    ):
        call_command(
            "gold_parity", questions=[SPIDER / "spider_dev.jsonl"], source_prefix=f"{server.dialect}_",
            ids=",".join(ids), stdout=StringIO(),
        )  # fmt: skip
