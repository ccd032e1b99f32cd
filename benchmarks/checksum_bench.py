"""What the per-part SHA-256 costs a 1M-row date: the hash a commit takes of each part's bytes
(in memory, as the file sink writes them) and the verification a publish does before its first
message (every part read back and hashed). The date is the one `labels_bench` writes, with the
same sinks scoring uses; the figures are set beside `mlplatform score`'s own 1M-row time.

    python -m benchmarks.checksum_bench                  # 1M rows, 5 repeats
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.labels_bench import DATE, RESULTS, build


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from mlplatform.clients import Clients
    from mlplatform.sinks.committed import CommittedOutput

    with tempfile.TemporaryDirectory(prefix="checksum-bench-") as tmp:
        build(Path(tmp), args.rows)
        folder = f"{tmp}/iris/inference-output/model=iris-model/date={DATE}"
        output = CommittedOutput.load(Clients(), folder)
        assert output is not None
        parts = [Path(folder, part["path"]).read_bytes() for part in output.manifest["parts"]]
        hashing, verifying = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            for data in parts:
                hashlib.sha256(data).hexdigest()
            hashing.append(time.perf_counter() - started)
            started = time.perf_counter()
            output.verify()
            verifying.append(time.perf_counter() - started)
    result = {
        "rows": args.rows,
        "parts": len(parts),
        "bytes": sum(len(p) for p in parts),
        "commit_hash_s": statistics.median(hashing),
        "publish_verify_s": statistics.median(verifying),
        "repeats": args.repeats,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "checksum.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.rows:,} rows in {result['parts']} parts ({result['bytes'] / 1e6:.1f} MB): "
        f"hash at commit {result['commit_hash_s'] * 1000:.0f} ms, verify before publish "
        f"{result['publish_verify_s'] * 1000:.0f} ms (medians of {args.repeats})"
    )


if __name__ == "__main__":
    main()
