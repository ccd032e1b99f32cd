"""The tables of the README's "Closing the loop" example, from a public dataset that ships with
scikit-learn (Wisconsin breast cancer, 569 tumours, 30 measurements, benign or malignant):

    train.csv                   400 tumours with their diagnosis
    scoring/date=2026-11-18/    three days of new tumours to score (56 each), without diagnosis;
    scoring/date=2026-11-19/    on the last day the imaging software is miscalibrated (every
    scoring/date=2026-11-20/    size reading, radius, perimeter and area, comes out 60% high)
    labels-late.csv             the diagnoses that came back later, for the first and last day

    python docs/examples/cancer_tables.py examples/cancer
"""

from __future__ import annotations

import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer

DAYS = ("2026-11-18", "2026-11-19", "2026-11-20")


def main(folder: Path) -> None:
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame["diagnosis"] = [bunch.target_names[t] for t in frame.pop("target")]
    frame.insert(0, "tumour_id", [f"t{i:03d}" for i in range(len(frame))])
    frame = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    folder.mkdir(parents=True, exist_ok=True)
    frame.iloc[:400].to_csv(folder / "train.csv", index=False)
    labels = []
    for index, day in enumerate(DAYS):
        batch = frame.iloc[400 + 56 * index : 400 + 56 * (index + 1)].copy()
        if index == 2:  # a miscalibrated scale: every size reading 60% high
            for column in [c for c in batch.columns if any(s in c for s in ("radius", "perimeter", "area"))]:
                batch[column] = batch[column] * 1.6
        (folder / "scoring" / f"date={day}").mkdir(parents=True, exist_ok=True)
        batch.drop(columns="diagnosis").to_csv(folder / "scoring" / f"date={day}" / "tumours.csv", index=False)
        if index != 1:
            labels.append(batch[["tumour_id", "diagnosis"]].assign(date=day))
    import pandas as pd

    pd.concat(labels).to_csv(folder / "labels-late.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/cancer"))
