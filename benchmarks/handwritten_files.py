"""The yardstick for scoring a file: load the registered model from MLflow, predict, write Parquet.

What a careful engineer writes by hand for one job on a CSV: no validation, drift, manifest,
atomic commit or MLflow run.

    python benchmarks/handwritten_files.py --input rows.csv --out /tmp/out --tracking-uri sqlite:///x.db \
        --model-uri models:/movies@production
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-uri", required=True)
    args = parser.parse_args()
    started = time.perf_counter()

    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    mlflow.set_tracking_uri(args.tracking_uri)
    model = mlflow.sklearn.load_model(args.model_uri)
    frame = pd.read_csv(args.input)
    features = frame[list(model.feature_names_in_)]
    table = {"row_id": range(len(frame))}
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(features)
        table |= {"predicted_class": model.classes_[proba.argmax(axis=1)]}
        table |= {f"proba_{c}": proba[:, i] for i, c in enumerate(model.classes_)}
    else:
        table |= {"prediction": model.predict(features)}
    os.makedirs(args.out, exist_ok=True)
    pq.write_table(pa.table(table), f"{args.out}/part-00000.parquet", compression="zstd")
    print(f"rows={len(frame)} seconds={time.perf_counter() - started:.2f}")


if __name__ == "__main__":
    main()
