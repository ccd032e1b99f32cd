"""The yardstick for `mlplatform train`: what a careful engineer writes by hand for one job.

Reads the table, fits the same pipeline (numeric columns as they are, categories as ordinal
codes, HistGradientBoosting with native categorical splits), evaluates on a 20% holdout, logs
params, metrics and the model (signature from a 5-row input example, requirements pinned) to
MLflow (skops, like the product) and registers it. No validation report, plots, importances, profile or promotion gate.

    python benchmarks/handbuilt_train.py --data flights.parquet --target arr_delay \
        --numeric a,b --categorical c --datetime d --tracking-uri sqlite:///x.db --threads 1
"""

from __future__ import annotations

import argparse
import time
from importlib.metadata import version


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--numeric", required=True)
    parser.add_argument("--categorical", default="")
    parser.add_argument("--datetime", default="", help="columns expanded into year, month, day, hour, weekday, epoch")
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-name", default="handbuilt")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()

    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    import skops.io
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder
    from threadpoolctl import threadpool_limits

    numeric = args.numeric.split(",")
    categorical = [c for c in args.categorical.split(",") if c]
    frame = pd.read_parquet(args.data)
    frame = frame[frame[args.target].notna()]
    for column in [c for c in args.datetime.split(",") if c]:  # what the product's DatetimeEncoder makes
        when = pd.to_datetime(frame[column], utc=True, errors="coerce")
        parts = {"year": when.dt.year, "month": when.dt.month, "day": when.dt.day, "hour": when.dt.hour,
                 "weekday": when.dt.weekday, "epoch": when.astype("int64") // 10**9}  # fmt: skip
        for part, values in parts.items():
            frame[f"{column}_{part}"] = values.astype("float64").where(when.notna())
            numeric.append(f"{column}_{part}")
    x, y = frame[numeric + categorical], frame[args.target].to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    # at most 255 codes a column (HistGradientBoosting's native categories), the rest one "infrequent" code
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                             max_categories=255)  # fmt: skip
    preprocess = ColumnTransformer([("numeric", "passthrough", numeric), ("categorical", encoder, categorical)])
    indices = list(range(len(numeric), len(numeric) + len(categorical))) or None
    estimator = HistGradientBoostingRegressor(categorical_features=indices, random_state=42)
    model = Pipeline([("preprocess", preprocess), ("model", estimator)])
    with threadpool_limits(args.threads):
        fit_started = time.perf_counter()
        model.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - fit_started
        predicted = model.predict(x_test)
    metrics = {
        "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
        "mae": float(mean_absolute_error(y_test, predicted)),
        "r2": float(r2_score(y_test, predicted)),
        "training_time_s": fit_seconds,
    }
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(f"{args.model_name}-training")
    with mlflow.start_run():
        mlflow.log_params(model.named_steps["model"].get_params())
        mlflow.log_metrics(metrics)
        requirements = [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "numpy", "pandas")]
        # skops like the product (MLflow's default here; pickle would run code when loaded)
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        mlflow.sklearn.log_model(model, name="model", input_example=x_train.head(5), pip_requirements=requirements,
                                 registered_model_name=args.model_name, skops_trusted_types=trusted)  # fmt: skip
    print(f"rmse={metrics['rmse']:.3f} fit={fit_seconds:.2f}s total={time.perf_counter() - started:.2f}s")


if __name__ == "__main__":
    main()
