"""The yardstick: a minimal, competent script doing the same work as `mlplatform score`.

Loads the same registered model, generates the same kind of rows, predict_proba on 100k-row
numpy batches, writes Parquet, and produces the same JSON messages (same fields, same two
headers) with a tuned idempotent producer. No validation, no drift, no manifest, no MLflow run,
no atomic commit: what a careful engineer would write by hand for one job.

    python benchmarks/handwritten.py --rows 1000000 --out /tmp/out [--kafka HOST:PORT --topic T]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
import warnings
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-uri", default="models:/iris-model@production")
    parser.add_argument("--kafka")
    parser.add_argument("--topic", default="predictions")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--headers", action="store_true", help="send the two headers (KAFKA_HEADERS=true)")
    args = parser.parse_args()

    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(args.tracking_uri)
    model = mlflow.sklearn.load_model(args.model_uri)
    # the registered model is a Pipeline (imputation, then the forest): the forest's threads only
    model.set_params(**{"model__n_jobs" if hasattr(model, "steps") else "n_jobs": -1})
    classes = [str(c) for c in model.classes_]
    names = list(model.feature_names_in_)

    producer = None
    if args.kafka:
        from confluent_kafka import Producer

        producer = Producer(
            {"bootstrap.servers": args.kafka, "enable.idempotence": True, "acks": "all", "linger.ms": 20,
             "compression.type": "lz4", "batch.size": 1_000_000, "queue.buffering.max.messages": 200_000,
             "queue.buffering.max.kbytes": 131_072, "delivery.report.only.error": True}
        )  # fmt: skip

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    centres = rng.uniform(1, 7, (len(classes), len(names)))
    date = "2026-11-22"
    run_id = uuid.uuid4().hex
    version = str(mlflow.MlflowClient().get_model_version_by_alias("iris-model", "production").version)
    # like mlplatform: no headers unless asked (the value holds the schema and model version)
    headers = [("schema_version", b"1"), ("model_version", version.encode())] if args.headers else None
    stamp = (
        f',"run_date":"{date}","inference_run_id":"{run_id}","model":{{"name":"iris-model",'
        f'"version":"{version}","uri":"{args.model_uri}"}},"features":{{'
    )
    start = time.perf_counter()
    for part, first in enumerate(range(0, args.rows, args.batch_size)):
        size = min(args.batch_size, args.rows - first)
        ids = np.arange(first, first + size)
        x = np.round(centres[rng.integers(0, len(classes), size)] + rng.normal(0, 0.4, (size, len(names))), 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proba = model.predict_proba(pd.DataFrame(x, columns=names))
        predicted = proba.argmax(axis=1)
        keys = pc.binary_join_element_wise(f"iris-model:{date}:", pc.cast(pa.array(ids), pa.string()), "")
        table = {"prediction_id": keys, "row_id": ids}
        table |= {n: x[:, i] for i, n in enumerate(names)}
        table["predicted_class"] = pa.array(classes).take(pa.array(predicted))
        table |= {f"proba_{c}": proba[:, i] for i, c in enumerate(classes)}
        pq.write_table(pa.table(table), f"{args.out}/part-{part:05d}.parquet", compression="zstd")
        if producer is not None:
            p = np.round(proba, 6)

            def text(values: np.ndarray) -> pa.Array:
                return pc.cast(pa.array(np.ascontiguousarray(values)), pa.string())

            labels = pa.array([json.dumps(c) for c in classes]).take(pa.array(predicted))
            pieces = ['{"schema_version":1,"prediction_id":"', keys, '","row_id":', text(ids), stamp]
            for i, n in enumerate(names):
                pieces += [("," if i else "") + json.dumps(n) + ":", text(x[:, i])]
            pieces += ['},"predicted_class":', labels, ',"probabilities":{']
            for i, c in enumerate(classes):
                pieces += [("," if i else "") + json.dumps(c) + ":", text(p[:, i])]
            scored_at = datetime.now(UTC).isoformat(timespec="seconds")
            pieces.append(f'}},"scored_at":"{scored_at}"}}')
            values = pc.binary_join_element_wise(*pieces, "").to_pylist()
            for key, value in zip(keys.to_pylist(), values, strict=True):
                while True:
                    try:
                        if headers:
                            producer.produce(args.topic, value, key, headers=headers)
                        else:
                            producer.produce(args.topic, value, key)
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.poll(0)
    if producer is not None:
        remaining = producer.flush(60)
        assert remaining == 0, f"{remaining} messages not delivered"
    print(f"rows={args.rows} seconds={time.perf_counter() - start:.2f}")


if __name__ == "__main__":
    main()
