"""Small mixed-type tables the tests make themselves (no downloads): the shapes real data has."""

from __future__ import annotations

import numpy as np
import pandas as pd


def penguins_like(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Text categories, a boolean, blanks in features, an id column, a text label."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], rows)
    island = np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Torgersen", "Biscoe"], rows))
    bill = np.where(species == "Adelie", 38.0, np.where(species == "Gentoo", 47.0, 49.0)) + rng.normal(0, 2, rows)
    mass = np.where(species == "Gentoo", 5000.0, 3700.0) + rng.normal(0, 300, rows)
    frame = pd.DataFrame(
        {
            "penguin_id": [f"p-{i:05d}" for i in range(rows)],
            "island": island,
            "bill_length_mm": bill.round(1),
            "body_mass_g": mass.round(0),
            "sex": rng.choice(["male", "female", None], rows, p=[0.47, 0.47, 0.06]),
            "tagged": rng.choice([True, False], rows),
            "species": species,
        }
    )
    frame.loc[rng.choice(rows, rows // 20, replace=False), "bill_length_mm"] = np.nan
    return frame


def houses_like(rows: int = 800, seed: int = 0) -> pd.DataFrame:
    """A regression table: price from size, rooms and a categorical district, with blanks."""
    rng = np.random.default_rng(seed)
    district = rng.choice(["north", "south", "centre"], rows, p=[0.4, 0.4, 0.2])
    size = rng.uniform(30, 200, rows).round(1)
    rooms = rng.integers(1, 7, rows)
    premium = pd.Series(district).map({"north": 0.0, "south": -200.0, "centre": 900.0}).to_numpy()
    price = 50.0 + 30.0 * size + 40.0 * rooms + premium + rng.normal(0, 80, rows)
    frame = pd.DataFrame({"district": district, "size_m2": size, "rooms": rooms, "price": price.round(2)})
    frame.loc[rng.choice(rows, rows // 25, replace=False), "size_m2"] = np.nan
    frame.loc[rng.choice(rows, rows // 25, replace=False), "district"] = None
    return frame


def real_world_traits(rows: int = 12_000, seed: int = 0) -> pd.DataFrame:
    """Round-2 traits in one table: a yes/no column blank for the first 90% of the rows (its first
    value lies beyond pyarrow's first 1 MB block: each row carries ~100 characters of free text),
    whole numbers with late decimals, ZIP codes with ZIP+4 values, leading zeros and blanks, ISO
    timestamps with zones, a short code with ~3,500 of 4,000 levels, and a label that depends on all of them."""
    rng = np.random.default_rng(seed)
    late = int(rows * 0.9)
    citation = np.where(np.arange(rows) < late, "", rng.choice(["YES", "NO"], rows))
    visits = rng.integers(0, 9, rows).astype(object)
    visits[late + 5 :: 50] = 2.5
    zips = rng.choice(["98126", "98108", "00501", "98126-2920", "98108-1234"], rows).astype(object)
    zips[rng.choice(rows, rows // 50, replace=False)] = ""
    seconds = rng.integers(0, 365 * 24 * 3600, rows)
    stamps = pd.to_datetime(1_356_998_400 + seconds, unit="s", utc=True)
    stamp_text = stamps.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
    stamp_text[::7] = stamps[::7].tz_convert("Europe/Berlin").strftime("%Y-%m-%d %H:%M:%S%z")
    tails = np.array([f"N{i:04d}{'AB'[i % 2]}" for i in range(4000)])
    tail = np.where(rng.random(rows) < 0.25, tails[rng.integers(0, 10, rows)], tails[rng.integers(0, 4000, rows)])
    score = (stamps.hour >= 17).astype(float) + (pd.Series(zips).str.len() > 5) + (tail == tails[0]) * 0.8
    label = np.where(score + rng.normal(0, 0.3, rows) > 0.9, "delayed", "on_time")
    note = [f"customer wrote about order {i} and asked for a call back about the delivery window" for i in range(rows)]
    return pd.DataFrame({"citation": citation, "visits": visits, "zip": zips, "stamp": stamp_text, "tail": tail,
                         "note": note, "label": label})  # fmt: skip
