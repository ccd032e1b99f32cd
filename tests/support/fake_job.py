"""A stand-in container entrypoint for `sagemaker run-local` tests: it reports what the job
sees (its /opt/ml layout, configuration files, inputs and environment) and behaves as asked.

    python tests/support/fake_job.py train|process|fail|sleep
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def seen(root: Path) -> dict:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "logs.txt" not in p.name)
    return {
        "files": files,
        "environment": {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PATH"))},
        "argv": sys.argv[1:],
    }


def main() -> int:
    root = Path(os.environ["MLPLATFORM_SAGEMAKER_ROOT"])
    mode = sys.argv[1]
    if mode == "train":
        (root / "model" / "seen.json").write_text(json.dumps(seen(root)))
        hyperparameters = json.loads((root / "input/config/hyperparameters.json").read_text())
        (root / "model" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        return 0
    if mode == "process":
        config = json.loads((root / "config/resourceconfig.json").read_text())
        report = root / "processing" / "output" / f"seen-{config['current_host']}.json"
        report.write_text(json.dumps(seen(root) | {"host": config["current_host"], "hosts": config["hosts"]}))
        return 0
    if mode == "fail":
        target = root / "output" / ("failure" if (root / "input").exists() else "message")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("the data has no column 'label'\nFix: pass target=...")
        return 2
    if mode == "sleep":
        (root / "pid").write_text(str(os.getpid()))
        time.sleep(120)
        return 0
    return 3


if __name__ == "__main__":
    sys.exit(main())
