"""The SageMaker container contract: where a job finds its inputs and leaves its outputs.

Everything hangs off one root, `/opt/ml`, which `MLPLATFORM_SAGEMAKER_ROOT` overrides so the
entrypoints run against a temporary folder of the same shape in tests and on a laptop.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT_VARIABLE = "MLPLATFORM_SAGEMAKER_ROOT"


@dataclass(frozen=True)
class Contract:
    root: Path

    @classmethod
    def from_env(cls) -> Contract:
        return cls(Path(os.environ.get(ROOT_VARIABLE, "/opt/ml")))

    # training jobs
    @property
    def hyperparameters(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    def channel(self, name: str) -> Path:
        return self.root / "input" / "data" / name

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_data(self) -> Path:
        return self.root / "output" / "data"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    # processing jobs
    @property
    def processing_input(self) -> Path:
        return self.root / "processing" / "input" / "data"

    @property
    def processing_output(self) -> Path:
        return self.root / "processing" / "output"

    @property
    def processing_message(self) -> Path:
        """Processing jobs report why they exited in this file (ExitMessage, up to 1 KB)."""
        return self.root / "output" / "message"

    @property
    def resource_config(self) -> Path:
        return self.root / "config" / "resourceconfig.json"

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
