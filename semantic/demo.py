"""The demo retail dataset: a seeded, deterministic DuckDB file and its registration as source "demo".

The schema is fixed by issue 4 because evaluation question sets rely on it. Rows are generated with
numpy (one seeded generator, vectorised) and handed to DuckDB as numpy arrays, so a build takes about
a second. The file is written under a temporary name and renamed, so a half-built file never appears.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import yaml
from django.db import transaction

from catalog.models import DataSource

DEMO_SOURCE_NAME = "demo"
DEMO_FILE_NAME = "demo.duckdb"
SEED = 20230101
FIRST_DAY = dt.date(2023, 1, 1)
LAST_DAY = dt.date(2025, 12, 31)
ORDER_COUNT = 36_000
CUSTOMER_COUNT = 2_000
HERE = Path(__file__).resolve().parent
DEMO_CATALOG_FILE = HERE / "demo_catalog.yaml"
DEMO_SEMANTIC_FILE = HERE / "demo_semantic.yaml"

SCHEMA = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY, name VARCHAR, email VARCHAR, segment VARCHAR,
    country VARCHAR, city VARCHAR, signup_date DATE);
CREATE TABLE products (
    product_id INTEGER PRIMARY KEY, name VARCHAR, category VARCHAR, subcategory VARCHAR,
    unit_cost DECIMAL(10,2), list_price DECIMAL(10,2));
CREATE TABLE sales_reps (
    rep_id INTEGER PRIMARY KEY, name VARCHAR, region VARCHAR, hire_date DATE);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (customer_id),
    rep_id INTEGER REFERENCES sales_reps (rep_id), order_date DATE, ship_date DATE,
    status VARCHAR, channel VARCHAR);
CREATE TABLE order_items (
    order_id INTEGER REFERENCES orders (order_id), line_no INTEGER,
    product_id INTEGER REFERENCES products (product_id), quantity INTEGER,
    unit_price DECIMAL(10,2), discount DECIMAL(4,3));
"""

# country -> (region, share of customers, cities)
COUNTRIES = {
    "United States": ("North America", 0.25, ["New York", "Los Angeles", "Chicago", "Houston", "Seattle"]),
    "Canada": ("North America", 0.07, ["Toronto", "Vancouver", "Montreal"]),
    "Germany": ("Europe", 0.12, ["Berlin", "Munich", "Hamburg", "Frankfurt"]),
    "United Kingdom": ("Europe", 0.10, ["London", "Manchester", "Birmingham"]),
    "France": ("Europe", 0.09, ["Paris", "Lyon", "Marseille", "Toulouse"]),
    "Japan": ("Asia Pacific", 0.10, ["Tokyo", "Osaka", "Yokohama", "Kyoto"]),
    "Australia": ("Asia Pacific", 0.07, ["Sydney", "Melbourne", "Brisbane"]),
    "India": ("Asia Pacific", 0.06, ["Mumbai", "Delhi", "Bangalore"]),
    "Brazil": ("Latin America", 0.08, ["Sao Paulo", "Rio de Janeiro", "Brasilia", "Salvador"]),
    "Mexico": ("Latin America", 0.06, ["Mexico City", "Guadalajara", "Monterrey"]),
}
REGIONS = ["North America", "Europe", "Asia Pacific", "Latin America"]
REPS_PER_REGION = {"North America": 6, "Europe": 6, "Asia Pacific": 5, "Latin America": 3}

# category -> subcategory -> (price range, product names)
PRODUCTS = {
    "Electronics": {
        "Laptops": (
            (650, 2200),
            ["Aero 14 Laptop", "Aero 16 Laptop", "ProBook X1", "UltraSlim 13", "WorkMate 15"],
        ),
        "Phones": ((250, 1100), ["Pixelon 8", "Nova Phone Lite", "Nova Phone Max", "Orbit S3"]),
        "Tablets": ((200, 900), ["Slate 10", "Slate 12 Pro", "Kido Tablet"]),
        "Monitors": ((150, 700), ["ClearView 24", "ClearView 27 4K", "CurveMax 34"]),
        "Accessories": (
            (15, 150),
            [
                "Wireless Mouse",
                "Mechanical Keyboard",
                "USB-C Hub",
                "Noise-Cancelling Headphones",
                "Webcam HD",
            ],
        ),
    },
    "Furniture": {
        "Chairs": (
            (90, 650),
            ["ErgoFlex Chair", "Executive Leather Chair", "Task Chair Basic", "Mesh Back Chair"],
        ),
        "Desks": ((150, 900), ["Standing Desk Pro", "Compact Writing Desk", "Corner Desk"]),
        "Bookcases": ((70, 400), ["Five-Shelf Bookcase", "Ladder Bookcase", "Cube Storage Unit"]),
        "Tables": (
            (100, 800),
            ["Conference Table", "Round Meeting Table", "Coffee Table Oak", "Side Table Walnut"],
        ),
    },
    "Office Supplies": {
        "Paper": (
            (4, 40),
            ["Copy Paper A4 Ream", "Sticky Notes Pack", "Premium Notebook", "Legal Pads 12-Pack"],
        ),
        "Binders": ((3, 25), ["Ring Binder 2in", "Presentation Binder", "Binder Clips Box"]),
        "Pens": ((2, 30), ["Gel Pens 10-Pack", "Fountain Pen", "Highlighters Set", "Ballpoint Pens 50-Pack"]),
        "Storage": (
            (10, 120),
            ["File Cabinet Drawer", "Desk Organizer", "Archive Boxes 10-Pack", "Label Maker"],
        ),
    },
    "Clothing": {
        "Shirts": ((15, 80), ["Oxford Shirt", "Polo Shirt", "Linen Shirt", "Graphic Tee", "Flannel Shirt"]),
        "Jackets": ((60, 300), ["Rain Jacket", "Down Jacket", "Denim Jacket"]),
        "Shoes": ((40, 220), ["Running Shoes", "Leather Boots", "Canvas Sneakers", "Trail Shoes"]),
        "Pants": ((25, 120), ["Chino Pants", "Slim Jeans", "Cargo Pants"]),
    },
    "Sports": {
        "Fitness": (
            (15, 900),
            ["Yoga Mat", "Adjustable Dumbbells", "Treadmill Compact", "Resistance Bands Set"],
        ),
        "Cycling": ((20, 1800), ["Road Bike Carbon", "Mountain Bike", "Bike Helmet", "Cycling Gloves"]),
        "Outdoor": ((20, 450), ["Camping Tent 2P", "Hiking Backpack 40L", "Sleeping Bag", "Trekking Poles"]),
        "Team Sports": ((15, 120), ["Soccer Ball", "Basketball", "Volleyball Net", "Baseball Glove"]),
    },
}

FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Lukas",
    "Anna",
    "Felix",
    "Lena",
    "Hiro",
    "Yuki",
    "Kenji",
    "Sakura",
    "Pierre",
    "Camille",
    "Louis",
    "Chloe",
    "Gabriel",
    "Ana",
    "Pedro",
    "Julia",
    "Mateo",
    "Sofia",
    "Arjun",
    "Priya",
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Ethan",
    "Ava",
    "Lucas",
    "Mia",
    "Oliver",
    "Amelia",
    "Jack",
    "Isla",
    "Carlos",
    "Lucia",
    "Diego",
    "Valentina",
    "Rahul",
    "Ananya",
    "Marco",
    "Elena",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Mueller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Watanabe",
    "Takahashi",
    "Martin",
    "Bernard",
    "Dubois",
    "Moreau",
    "Laurent",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Pereira",
    "Patel",
    "Sharma",
    "Singh",
    "Kumar",
    "Taylor",
    "Wilson",
    "Anderson",
    "Thomas",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Lopez",
    "Hernandez",
    "Gonzalez",
    "Perez",
    "Clark",
    "Lewis",
]
REP_NAMES = [
    "Avery Collins",
    "Jordan Blake",
    "Morgan Reyes",
    "Taylor Brooks",
    "Casey Quinn",
    "Riley Parker",
    "Sophie Keller",
    "Maximilian Braun",
    "Claire Fontaine",
    "Oliver Bennett",
    "Hannah Vogel",
    "Julien Roux",
    "Aiko Nakamura",
    "Daniel Chen",
    "Priya Nair",
    "Liam O'Connor",
    "Mei Lin",
    "Lucas Ferreira",
    "Camila Torres",
    "Rafael Costa",
]


def _days(start: dt.date, end: dt.date) -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(end) + 1, dtype="datetime64[D]")


def _customers(rng: np.random.Generator) -> dict[str, np.ndarray]:
    count = CUSTOMER_COUNT
    pairs = rng.choice(len(FIRST_NAMES) * len(LAST_NAMES), size=count, replace=False)  # unique names
    first = np.array(FIRST_NAMES, dtype=object)[pairs // len(LAST_NAMES)]
    last = np.array(LAST_NAMES, dtype=object)[pairs % len(LAST_NAMES)]
    ids = np.arange(1, count + 1, dtype=np.int32)
    names = first + " " + last
    emails = np.array(
        [f"{f.lower()}.{la.lower()}{i}@example.com" for f, la, i in zip(first, last, ids, strict=True)],
        dtype=object,
    )
    countries = list(COUNTRIES)
    shares = np.array([COUNTRIES[c][1] for c in countries])
    country = rng.choice(len(countries), size=count, p=shares / shares.sum())
    # Cities are listed biggest first; bigger cities have more customers.
    city = np.empty(count, dtype=object)
    for index, name in enumerate(countries):
        cities = COUNTRIES[name][2]
        weights = 1.0 / np.arange(1, len(cities) + 1) ** 0.8
        mask = country == index
        city[mask] = np.array(cities, dtype=object)[
            rng.choice(len(cities), size=int(mask.sum()), p=weights / weights.sum())
        ]
    segment = rng.choice(
        np.array(["Consumer", "Corporate", "Home Office"], dtype=object), size=count, p=[0.55, 0.3, 0.15]
    )
    # A quarter signed up before the order history starts; the rest join at a growing pace.
    early = _days(dt.date(2021, 1, 1), dt.date(2022, 12, 31))
    later = _days(FIRST_DAY, LAST_DAY)
    later_weights = np.linspace(1.0, 2.0, len(later))
    n_early = count // 4
    signup = np.concatenate(
        [
            rng.choice(early, size=n_early),
            rng.choice(later, size=count - n_early, p=later_weights / later_weights.sum()),
        ]
    )
    signup.sort()  # customer ids follow signup order
    return {
        "customer_id": ids,
        "name": names,
        "email": emails,
        "segment": segment,
        "country": np.array(countries, dtype=object)[country],
        "city": city,
        "signup_date": signup,
    }


def _products(rng: np.random.Generator) -> dict[str, np.ndarray]:
    rows = []
    for category, subcategories in PRODUCTS.items():
        for subcategory, ((low, high), names) in subcategories.items():
            for name in names:
                price = round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 0) - 0.01
                cost = round(price * float(rng.uniform(0.45, 0.75)), 2)
                rows.append((name, category, subcategory, cost, price))
    columns = list(zip(*rows, strict=True))
    return {
        "product_id": np.arange(1, len(rows) + 1, dtype=np.int32),
        "name": np.array(columns[0], dtype=object),
        "category": np.array(columns[1], dtype=object),
        "subcategory": np.array(columns[2], dtype=object),
        "unit_cost": np.array(columns[3]),
        "list_price": np.array(columns[4]),
    }


def _sales_reps(rng: np.random.Generator) -> dict[str, np.ndarray]:
    regions = [region for region in REGIONS for _ in range(REPS_PER_REGION[region])]
    hire_days = _days(dt.date(2016, 1, 1), dt.date(2022, 12, 31))
    return {
        "rep_id": np.arange(1, len(regions) + 1, dtype=np.int32),
        "name": np.array(REP_NAMES, dtype=object),
        "region": np.array(regions, dtype=object),
        "hire_date": np.sort(rng.choice(hire_days, size=len(regions))),
    }


def _orders(rng: np.random.Generator, customers: dict, reps: dict) -> dict[str, np.ndarray]:
    days = _days(FIRST_DAY, LAST_DAY)
    years = days.astype("datetime64[Y]").astype(int) + 1970
    months = days.astype("datetime64[M]").astype(int) % 12 + 1
    weekdays = (days.astype(int) + 3) % 7  # 0 = Monday
    growth = np.select([years == 2023, years == 2024], [1.0, 1.22], 1.45)
    season = np.array([0.85, 0.8, 0.95, 0.95, 1.0, 0.9, 0.85, 0.9, 1.0, 1.05, 1.35, 1.6])[months - 1]
    weekday_factor = np.where(weekdays >= 5, 1.15, 1.0)
    weights = growth * season * weekday_factor
    order_date = np.sort(rng.choice(days, size=ORDER_COUNT, p=weights / weights.sum()))

    # Only customers who had signed up by the order date can order; recent sign-ups order a bit more.
    signed_up = np.searchsorted(customers["signup_date"], order_date, side="right")
    customer_index = np.floor(signed_up * rng.power(1.3, size=ORDER_COUNT)).astype(int).clip(0, signed_up - 1)
    customer_id = customers["customer_id"][customer_index]

    channel_names = np.array(["web", "store", "mobile"], dtype=object)
    mobile_share = 0.12 + 0.1 * (order_date - days[0]).astype(int) / len(days)  # mobile grows over time
    u = rng.random(ORDER_COUNT)
    channel = channel_names[np.where(u < 0.45, 0, np.where(u < 1.0 - mobile_share, 1, 2))]

    # Store and mobile orders are handled by a rep of the customer's region; web orders have none.
    region_of_country = {country: region for country, (region, _, _) in COUNTRIES.items()}
    customer_region = np.array([region_of_country[c] for c in customers["country"]], dtype=object)[
        customer_index
    ]
    rep_id = np.full(ORDER_COUNT, -1, dtype=np.int64)
    for region in REGIONS:
        region_reps = reps["rep_id"][reps["region"] == region]
        mask = (customer_region == region) & (channel != "web")
        rep_id[mask] = rng.choice(region_reps, size=int(mask.sum()))

    recent = order_date > np.datetime64("2025-12-10")
    status_names = np.array(["completed", "cancelled", "returned", "pending"], dtype=object)
    status = np.where(
        recent,
        status_names[rng.choice(4, size=ORDER_COUNT, p=[0.35, 0.05, 0.0, 0.6])],
        status_names[rng.choice(4, size=ORDER_COUNT, p=[0.86, 0.065, 0.065, 0.01])],
    )
    shipped = (
        (status == "completed")
        | (status == "returned")
        | ((status == "pending") & (rng.random(ORDER_COUNT) < 0.3))
    )
    ship_date = order_date + rng.integers(1, 8, size=ORDER_COUNT).astype("timedelta64[D]")
    return {
        "order_id": np.arange(1, ORDER_COUNT + 1, dtype=np.int32),
        "customer_id": customer_id,
        "rep_id": rep_id,
        "order_date": order_date,
        "ship_date": ship_date,
        "status": status,
        "channel": channel,
        "no_rep": rep_id < 0,
        "not_shipped": ~shipped,
    }


def _order_items(
    rng: np.random.Generator, customers: dict, orders: dict, products: dict
) -> dict[str, np.ndarray]:
    line_counts = rng.choice(np.arange(1, 6), size=ORDER_COUNT, p=[0.36, 0.28, 0.18, 0.11, 0.07])
    order_index = np.repeat(np.arange(ORDER_COUNT), line_counts)
    starts = np.cumsum(line_counts) - line_counts
    line_no = np.arange(len(order_index)) - np.repeat(starts, line_counts) + 1

    # Cheap things sell more often than expensive ones.
    popularity = 1.0 / np.sqrt(products["list_price"])
    product_index = rng.choice(len(popularity), size=len(order_index), p=popularity / popularity.sum())
    category = products["category"][product_index]
    quantity = np.where(
        category == "Office Supplies",
        rng.integers(1, 11, size=len(order_index)),
        rng.choice(np.arange(1, 6), size=len(order_index), p=[0.6, 0.2, 0.1, 0.06, 0.04]),
    )
    year = orders["order_date"][order_index].astype("datetime64[Y]").astype(int) + 1970
    price_factor = np.select([year == 2023, year == 2024], [1.0, 1.03], 1.06)  # yearly price increases
    unit_price = np.round(products["list_price"][product_index] * price_factor, 2)
    corporate = customers["segment"][orders["customer_id"][order_index] - 1] == "Corporate"
    discounts = np.array([0.0, 0.05, 0.1, 0.15, 0.2])
    discount = np.where(
        corporate,
        rng.choice(discounts, size=len(order_index), p=[0.4, 0.2, 0.2, 0.1, 0.1]),
        rng.choice(discounts, size=len(order_index), p=[0.68, 0.14, 0.1, 0.03, 0.05]),
    )
    return {
        "order_id": orders["order_id"][order_index],
        "line_no": line_no.astype(np.int32),
        "product_id": products["product_id"][product_index],
        "quantity": quantity.astype(np.int32),
        "unit_price": unit_price,
        "discount": discount,
    }


def _insert(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    data: dict[str, np.ndarray],
    nulls: dict[str, str] | None = None,
) -> None:
    """Insert numpy columns into ``table``; ``nulls`` maps a column to the staging column that says "NULL here"."""
    nulls = nulls or {}
    columns = [name for name in data if name not in nulls.values()]
    # DuckDB reads numpy datetimes only at sub-second units.
    data = {name: v.astype("datetime64[us]") if v.dtype.kind == "M" else v for name, v in data.items()}
    connection.register("staging", data)
    select_list = ", ".join(
        f"CASE WHEN {nulls[c]} THEN NULL ELSE {c} END" if c in nulls else c for c in columns
    )
    connection.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select_list} FROM staging")
    connection.unregister("staging")


def build_demo_database(target: Path, seed: int = SEED) -> Path:
    """Write the demo retail database to ``target`` (atomically) and return its path."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    customers = _customers(rng)
    products = _products(rng)
    reps = _sales_reps(rng)
    orders = _orders(rng, customers, reps)
    items = _order_items(rng, customers, orders, products)

    handle, temp_name = tempfile.mkstemp(prefix=".demo-", suffix=".duckdb", dir=target.parent)
    os.close(handle)
    os.unlink(temp_name)  # DuckDB wants to create the file itself
    try:
        with duckdb.connect(temp_name) as connection:
            connection.execute(SCHEMA)
            _insert(connection, "customers", customers)
            _insert(connection, "products", products)
            _insert(connection, "sales_reps", reps)
            _insert(connection, "orders", orders, nulls={"rep_id": "no_rep", "ship_date": "not_shipped"})
            _insert(connection, "order_items", items)
            connection.execute("CHECKPOINT")
        os.replace(temp_name, target)
    finally:
        for leftover in (temp_name, temp_name + ".wal"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return target


# --- registration in the catalog and the semantic layer -------------------------------------------


def register_source(name: str, path: Path) -> DataSource:
    """Import (or re-sync) the file into the catalog and profile it; descriptions already written are kept."""
    from catalog.sync import import_source

    return import_source(name, path, kind=DataSource.Kind.DUCKDB)


def apply_catalog_descriptions(source: DataSource, descriptions: dict) -> None:
    """Fill table and column descriptions and synonyms that nobody has written yet."""
    for table_name, table_spec in descriptions["tables"].items():
        table = source.tables.get(name=table_name)
        if not table.description:
            table.description = table_spec["description"]
            table.save(update_fields=["description"])
        for column_name, column_spec in table_spec["columns"].items():
            column = table.columns.get(name=column_name)
            changed = []
            if not column.description:
                column.description = column_spec["description"]
                changed.append("description")
            if not column.synonyms and column_spec.get("synonyms"):
                column.synonyms = column_spec["synonyms"]
                changed.append("synonyms")
            if changed:
                column.save(update_fields=changed)


def load_demo(data_dir: Path, force: bool = False) -> DataSource:
    """Build (unless it exists and ``force`` is off) and register the demo source with its semantic model."""
    from semantic.yaml_io import import_semantic

    target = Path(data_dir) / DEMO_FILE_NAME
    if force or not target.exists():
        build_demo_database(target)
    with transaction.atomic():
        source = register_source(DEMO_SOURCE_NAME, target)
        source.description = (
            source.description or "Demo retail data: customers, products, sales reps, orders."
        )
        source.save(update_fields=["description"])
        apply_catalog_descriptions(source, yaml.safe_load(DEMO_CATALOG_FILE.read_text()))
        import_semantic(yaml.safe_load(DEMO_SEMANTIC_FILE.read_text()))
    return source
