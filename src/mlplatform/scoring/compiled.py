"""Tree ensembles compiled to native code (treelite + tl2cgen): the same predictions, faster.

`predict_proba` of the default forest is the largest cost of scoring (~1.2-2 s per million rows
on 2 cores); the same trees compiled to C predict them ~3x faster, with identical probabilities.
treelite's interpreter is slower than scikit-learn, so only the compiled path is used.

A model is compiled once into a shared library keyed by the SHA-256 of its trees (so a cached
library can never belong to another model) and checked against scikit-learn on the first rows it
scores before its predictions are used; a mismatch, a model treelite cannot import, or a machine
without a C compiler keep scikit-learn, with one log line saying why. Preprocessing (imputation,
one-hot) stays in the scikit-learn pipeline; only the final forest is compiled.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlplatform.concurrency import available_cores

log = logging.getLogger(__name__)
# Families whose trees treelite imports exactly (HistGradientBoosting's native categorical splits
# are not among them; those models keep scikit-learn).
COMPILABLE = {
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
}
OPTIMISATION = "-O1"  # overrides tl2cgen's -O3 (gcc takes the last -O)
CHECK_ROWS = 2_000  # rows compared with scikit-learn before the compiled predictions are used


def compiler() -> str | None:
    """The C compiler tl2cgen will call (`CC`, else gcc/clang/cc on PATH), or None."""
    for name in (os.environ.get("CC"), "gcc", "clang", "cc"):
        if name and shutil.which(name):
            return name
    return None


def final_estimator(model: Any) -> Any:
    """The estimator at the end of a pipeline (or the model itself)."""
    return model.steps[-1][1] if hasattr(model, "steps") else model


def compilable(model: Any) -> Any | None:
    """The model's final forest if treelite can import it exactly, else None."""
    estimator = final_estimator(model)
    return estimator if type(estimator).__name__ in COMPILABLE else None


def compile_model(model: Any, cache: Path, threads: int) -> Any:
    """`model` with its forest compiled into the per-forest cache, or `model` itself when that
    is not possible."""
    estimator = compilable(model)
    if estimator is None:
        log.info("scoring with scikit-learn: %s models are not compiled", type(final_estimator(model)).__name__)
        return model
    toolchain = compiler()
    if toolchain is None:
        log.warning("scoring with scikit-learn: no C compiler (gcc/clang) to compile the forest")
        return model
    import tl2cgen
    import treelite

    trees = treelite.sklearn.import_model(estimator)
    digest = hashlib.sha256(trees.serialize_bytes()).hexdigest()[:32]
    library = cache / f"forest-{digest}-tl2cgen{tl2cgen.__version__}.so"
    if not library.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as work:
            built = Path(work) / library.name
            build_library(trees, built, threads, toolchain)
            os.replace(built, library)  # atomic: a concurrent run sees no half-written library
    return load_compiled(model, library, threads)


def build_library(trees: Any, libpath: Path, threads: int, toolchain: str) -> None:
    """Compile imported trees to a shared library, bounded: gcc -O1 (a third of -O2's time for
    nearly all of its speed, measured) split into one compilation unit per thread."""
    import tl2cgen

    units = usable_threads(threads)
    # tl2cgen's bundled treelite (4.1.2) always says that it reads a checkpoint of a newer one:
    # no treelite release agrees with tl2cgen 1.0 and numpy 2. It writes that to the process's
    # stderr (and tl2cgen's own log to stdout), so both are captured while compiling and logged
    # at debug level; the compiled predictions are compared with scikit-learn's before use.
    messages: Callable[[], str] = str
    try:
        with _native_output() as messages:
            tl2cgen.export_lib(
                trees,
                toolchain=toolchain,
                libpath=libpath,
                params={"parallel_comp": units},
                nthread=units,
                options=[OPTIMISATION],
            )
    finally:  # a failing compile's gcc output included
        for line in messages().splitlines():
            log.debug("tl2cgen: %s", line)


@contextlib.contextmanager
def _native_output() -> Iterator[Callable[[], str]]:
    """Everything written to stdout and stderr in the block, by Python or native code; yields
    a function returning it once the block has ended."""
    captured: list[str] = []
    with tempfile.TemporaryFile() as sink, contextlib.redirect_stdout(io.StringIO()) as python:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield lambda: "".join(captured)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            captured.append(python.getvalue() + sink.read().decode(errors="replace"))


def usable_threads(requested: int) -> int:
    """`requested`, capped at the cores this process may run on and at OMP_NUM_THREADS: tl2cgen
    refuses more threads than OpenMP allows (a container's cpuset, `taskset`)."""
    allowed = available_cores()
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        allowed = min(allowed, int(omp))
    return max(1, min(requested, allowed))


def load_compiled(model: Any, library: Path, threads: int) -> Any:
    """`model` predicting through a compiled library of its forest."""
    import tl2cgen

    predictor = tl2cgen.Predictor(library, nthread=usable_threads(threads))
    wrapper = CompiledClassifier if hasattr(model, "predict_proba") else CompiledRegressor
    return wrapper(model, predictor)


class _Compiled:
    """The scikit-learn model, with the forest's predictions from the compiled library. Anything
    else (classes_, steps, get_params) is the model's own."""

    def __init__(self, model: Any, predictor: Any) -> None:
        self.model = model
        self.predictor = predictor
        self.checked = False
        self.native = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def _matrix(self, features: Any) -> Any:
        import tl2cgen

        preprocessed = self.model[:-1].transform(features) if hasattr(self.model, "steps") else features
        if hasattr(preprocessed, "toarray"):  # one-hot output may be sparse
            preprocessed = preprocessed.toarray()
        # scikit-learn's trees compare float32 features: round through float32 the same way, or
        # values near a threshold (4.08 as float64 vs float32) fall on the other side
        features32 = np.asarray(preprocessed, dtype=np.float32)
        return tl2cgen.DMatrix(np.ascontiguousarray(features32, dtype=np.float64), dtype="float64")

    def _native(self, features: Any) -> np.ndarray:
        raw = np.asarray(self.predictor.predict(self._matrix(features)))
        return raw.reshape(len(features), -1)

    def _checked(self, features: Any, reference: Any) -> np.ndarray | None:
        """The compiled predictions, after the first call compared them with scikit-learn's."""
        if not self.native:
            return None
        predictions = self._native(features)
        if not self.checked:
            sample = features.iloc[:CHECK_ROWS] if hasattr(features, "iloc") else features[:CHECK_ROWS]
            expected = np.asarray(reference(sample)).reshape(len(sample), -1)
            if not np.allclose(predictions[: len(sample)], expected, rtol=0, atol=1e-9):
                log.warning("the compiled forest disagrees with scikit-learn: scoring with scikit-learn")
                self.native = False
                return None
            self.checked = True
        return predictions


class CompiledClassifier(_Compiled):
    def predict_proba(self, features: Any) -> np.ndarray:
        predictions = self._checked(features, self.model.predict_proba)
        return self.model.predict_proba(features) if predictions is None else predictions


class CompiledRegressor(_Compiled):
    def predict(self, features: Any) -> np.ndarray:
        predictions = self._checked(features, self.model.predict)
        return self.model.predict(features) if predictions is None else predictions.ravel()
