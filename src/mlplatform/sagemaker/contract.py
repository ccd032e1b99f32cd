"""The SageMaker container contract: where a job finds its inputs and leaves its outputs.

Everything hangs off one root, `/opt/ml`, which `MLPLATFORM_SAGEMAKER_ROOT` overrides so the
entrypoints run against a temporary folder of the same shape in tests and on a laptop.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT_VARIABLE = "MLPLATFORM_SAGEMAKER_ROOT"


# Where SageMaker puts a job's inputs and expects its outputs, relative to /opt/ml.
LAYOUT = {
    # training jobs
    "hyperparameters": "input/config/hyperparameters.json",
    "model_dir": "model",
    "output_data": "output/data",
    "failure_file": "output/failure",
    # processing jobs
    "processing_input": "processing/input/data",
    "processing_output": "processing/output",
    "processing_message": "output/message",  # why the job exited (ExitMessage, up to 1 KB)
    "resource_config": "config/resourceconfig.json",
}


@dataclass(frozen=True)
class Contract:
    root: Path
    hyperparameters: Path = field(init=False)
    model_dir: Path = field(init=False)
    output_data: Path = field(init=False)
    failure_file: Path = field(init=False)
    processing_input: Path = field(init=False)
    processing_output: Path = field(init=False)
    processing_message: Path = field(init=False)
    resource_config: Path = field(init=False)

    def __post_init__(self) -> None:
        for name, relative in LAYOUT.items():
            object.__setattr__(self, name, self.root / relative)

    @classmethod
    def from_env(cls) -> Contract:
        return cls(Path(os.environ.get(ROOT_VARIABLE, "/opt/ml")))

    def channel(self, name: str) -> Path:
        """A training job's input channel (`training`, `validation`)."""
        return self.root / "input" / "data" / name

    def hosts(self) -> tuple[str, list[str]]:
        """(current host, all hosts) of a processing job; a single local host without the file."""
        if not self.resource_config.is_file():
            return "local", ["local"]
        config: dict[str, Any] = json.loads(self.resource_config.read_text())
        return str(config["current_host"]), [str(h) for h in config["hosts"]]


def has_data_files(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.is_file() and p.suffix.lower() in (".csv", ".parquet", ".pq") and not p.name.startswith(("_", "."))
        for p in folder.rglob("*")
    )
