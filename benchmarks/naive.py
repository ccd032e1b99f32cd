"""The naive way, as DESIGN.md §6 describes it: one pandas frame, whole-frame pyfunc predict,
`iterrows` + `json.dumps` + `produce` per row, Parquet of the whole frame.

    python benchmarks/naive.py --rows 1000000 --out /tmp/out --tracking-uri sqlite:///... [--kafka HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-uri", default="models:/iris-model@production")
    parser.add_argument("--kafka")
    parser.add_argument("--topic", default="predictions")
    args = parser.parse_args()

    import mlflow
    import mlflow.pyfunc

    mlflow.set_tracking_uri(args.tracking_uri)
    model = mlflow.pyfunc.load_model(args.model_uri)
    names = [c.name for c in model.metadata.get_input_schema().inputs]
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(np.round(rng.uniform(1, 7, (args.rows, len(names))), 2), columns=names)
    frame["prediction"] = model.predict(frame[names])
    os.makedirs(args.out, exist_ok=True)
    frame.to_parquet(f"{args.out}/predictions.parquet")
    if args.kafka:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": args.kafka, "enable.idempotence": True, "acks": "all"})
        for index, row in frame.iterrows():
            message = json.dumps({"prediction_id": f"iris-model:2026-11-22:{index}", **row.to_dict()})
            while True:
                try:
                    producer.produce(args.topic, message.encode(), str(index).encode())
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.flush(60)
    print(f"rows={args.rows} seconds={time.perf_counter() - start:.2f}")


if __name__ == "__main__":
    main()
