"""A forest compiled at training, shipped inside the registered model, and the choice of
predictor for a scoring run.

On SageMaker every daily run is a fresh container, so a library cached on disk never survives;
compiling once at training (in an image built from the same base and lock file as the scoring
image) and storing the library among the model's files means the SHA-256 recorded at
registration covers it, and scoring only loads it. It is used only on a platform that matches
the one recorded with it (CPU architecture, OS, C library, tl2cgen/treelite versions); anywhere
else the run falls back, saying so in one line, to what the rule would pick without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplatform.scoring.compile_rule import Choice, ForestSize, Mode, choose, forest_size, pays_at_training
from mlplatform.scoring.compiled import build_library, compilable, compile_model, compiler, load_compiled

log = logging.getLogger(__name__)
PREBUILT_DIR = "compiled"  # folder inside the MLflow model
RECORD = "compiled.json"
LIBRARY = "forest.so"
MATCHED = ("machine", "system", "libc", "tl2cgen", "treelite")


@dataclass(frozen=True)
class Prebuilt:
    """A compiled library read from a verified model folder, with what it was built for."""

    record: dict[str, Any]
    library: bytes

    @classmethod
    def read(cls, model_folder: Path) -> Prebuilt | None:
        folder = model_folder / PREBUILT_DIR
        if not (folder / RECORD).is_file():
            return None
        record = json.loads((folder / RECORD).read_text())
        return cls(record, (folder / str(record.get("library", LIBRARY))).read_bytes())


def this_platform() -> dict[str, str]:
    """What a compiled library depends on: CPU, OS, C library, and the code generator."""
    from importlib.metadata import version

    libc, libc_version = platform.libc_ver()
    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "libc": f"{libc} {libc_version}".strip(),
        "tl2cgen": version("tl2cgen"),
        "treelite": version("treelite"),
    }


def mismatch(record: dict[str, Any], here: dict[str, str]) -> str | None:
    """Why a library built for `record` cannot load `here`, or None when it can."""
    differences = [f"{key} {record.get(key)!s} vs {here[key]}" for key in MATCHED if record.get(key) != here[key]]
    return ", ".join(differences) or None


def prebuild(model: Any, folder: Path, daily_rows: int | None, threads: int) -> str | None:
    """Compile the model's forest into `folder` (library + record) when the expected daily
    volume pays for it; returns why not otherwise (or None when it was built)."""
    estimator = compilable(model)
    size = forest_size(estimator) if estimator is not None else None
    if size is None:
        return "not a forest treelite compiles"
    choice = pays_at_training(daily_rows, size, threads)
    if choice.action != "compile":
        return choice.reason
    toolchain = compiler()
    if toolchain is None:
        return "no C compiler (gcc/clang) on this machine"
    import treelite

    folder.mkdir(parents=True, exist_ok=True)
    build_library(treelite.sklearn.import_model(estimator), folder / LIBRARY, threads, toolchain)
    record = this_platform() | {
        "library": LIBRARY,
        "sha256": hashlib.sha256((folder / LIBRARY).read_bytes()).hexdigest(),
        "trees": size.trees,
        "nodes": size.nodes,
        "why": choice.reason,
    }
    (folder / RECORD).write_text(json.dumps(record, indent=1))
    log.info("compiled the forest into the model: %s", choice.reason)
    return None


def plan(model: Any, prebuilt: Prebuilt | None, rows: int | None, mode: Mode, threads: int, label: str) -> Choice:
    """The predictor for one run, logged in one line; a library built for another platform is
    set aside with its reason in that line."""
    estimator = compilable(model)
    size = forest_size(estimator) if estimator is not None else None
    if size is None:
        return Choice("plain", "not a compiled family")
    usable = prebuilt is not None
    note = ""
    if prebuilt is not None and (why := mismatch(prebuilt.record, this_platform())):
        usable, note = False, f"the forest compiled with {label} does not fit this machine ({why}); "
    choice = choose(mode, rows, size, threads, usable)
    log_line = log.warning if note else log.info
    what = {
        "prebuilt": "the forest compiled at training",
        "compile": "the forest compiled here",
        "plain": "scikit-learn",
    }
    log_line("%spredicting with %s (%s)", note, what[choice.action], choice.reason)
    return choice


def apply(choice: Choice, model: Any, prebuilt: Prebuilt | None, cache: Path, threads: int) -> Any:
    """The model predicting as `choice` says."""
    if choice.action == "compile":
        return compile_model(model, cache, threads)
    if choice.action == "prebuilt" and prebuilt is not None:
        return load_prebuilt(model, prebuilt, threads)
    return model


def load_prebuilt(model: Any, prebuilt: Prebuilt, threads: int) -> Any:
    """Load the library from a private copy of the verified bytes (never from a shared path
    someone could swap after the check)."""
    if hashlib.sha256(prebuilt.library).hexdigest() != prebuilt.record.get("sha256"):
        log.warning("the compiled forest does not match its record: predicting with scikit-learn")
        return model
    with tempfile.TemporaryDirectory(prefix="mlplatform-forest-") as private:
        path = Path(private) / LIBRARY
        path.write_bytes(prebuilt.library)
        return load_compiled(model, path, threads)  # loaded into memory: the file may go


__all__ = ["ForestSize", "Prebuilt", "apply", "plan", "prebuild"]
