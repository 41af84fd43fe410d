"""Fixtures of the engine tests: a small real SQLite shop imported through the catalog, and a GBNF checker."""

from __future__ import annotations

import ctypes
import sqlite3
from pathlib import Path

import pytest
from django.conf import settings as django_settings

MODELS_DIR = Path(django_settings.MODELS_DIR)
SMALL_MODEL = MODELS_DIR / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

SHOP_SQL = """
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, signup_year INTEGER);
CREATE TABLE products (product_id INTEGER PRIMARY KEY, title TEXT, category TEXT, price REAL);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(customer_id),
    product_id INTEGER REFERENCES products(product_id),
    quantity INTEGER,
    status TEXT
);
CREATE TABLE "show" (show_id INTEGER PRIMARY KEY, "Show Time" TEXT, venue TEXT);
INSERT INTO customers VALUES (1, 'Ana Ruiz', 'Spain', 2021), (2, 'Luc Petit', 'France', 2022),
    (3, 'Marie Curie', 'France', 2023), (4, 'Kenji Sato', 'Japan', 2022), (5, 'Sam Lee', 'United States', 2021);
INSERT INTO products VALUES (1, 'Desk Lamp', 'Lighting', 30.0), (2, 'Oak Desk', 'Furniture', 250.0),
    (3, 'Floor Lamp', 'Lighting', 80.0), (4, 'Office Chair', 'Furniture', 120.0);
INSERT INTO orders VALUES (1, 1, 1, 2, 'shipped'), (2, 2, 2, 1, 'shipped'), (3, 2, 3, 1, 'returned'),
    (4, 3, 4, 3, 'shipped'), (5, 4, 1, 1, 'pending'), (6, 4, 2, 1, 'shipped'), (7, 5, 3, 2, 'shipped');
INSERT INTO "show" VALUES (1, '20:00', 'Main Hall'), (2, '18:30', 'Garden');
"""


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SHOP_SQL)
    conn.close()
    return path


@pytest.fixture
def shop(db, settings, tmp_path, shop_file):
    """The shop imported and profiled by the real catalog (snapshots under tmp_path)."""
    from catalog.sync import import_source

    settings.CATALOG_CACHE_DIR = tmp_path / "catalog_cache"
    return import_source("shop", shop_file)


@pytest.fixture(scope="session")
def vocab_llama():
    """The 0.5B model's vocabulary only (no weights): enough to run llama.cpp's grammar engine."""
    if not SMALL_MODEL.is_file():
        pytest.skip(f"test model missing: {SMALL_MODEL} (python manage.py fetch_model)")
    from llama_cpp import Llama

    return Llama(str(SMALL_MODEL), vocab_only=True, verbose=False)


def grammar_accepts(llama, gbnf: str, text: str) -> bool:
    """Whether llama.cpp's grammar sampler lets the model write exactly ``text`` and then stop."""
    import llama_cpp

    vocab = llama._model.vocab
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
    if not sampler:
        raise ValueError("llama.cpp could not parse the grammar")
    try:
        tokens = llama.tokenize(text.encode(), add_bos=False, special=False)
        for token in [*tokens, llama_cpp.llama_vocab_eos(vocab)]:
            cell = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
            candidates = llama_cpp.llama_token_data_array(cell, 1, -1, False)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(candidates))
            if cell[0].logit == float("-inf"):
                return False
            llama_cpp.llama_sampler_accept(sampler, token)
        return True
    finally:
        llama_cpp.llama_sampler_free(sampler)
