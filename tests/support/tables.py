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
