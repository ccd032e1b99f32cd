"""MLflow tracking: experiments, runs, and what a flow logs inside a run."""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplatform.registry.mlflow.connection import Connection, safe_dir
from mlplatform.registry.mlflow.errors import mlflow_errors


@dataclass(frozen=True)
class LoggedModel:
    """A model logged in a run (MLflow 3 gives it an id of its own: models:/m-...)."""

    uri: str
    model_id: str | None
    sha256: str | None = None  # of the model's files as stored, recorded on the version


ML_EXPERIMENT = {"mlflow.experimentKind": "custom_model_development"}


class Tracking:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def find_experiment_id(self, name: str) -> str | None:
        """The experiment's id, None when there is none (never creates one)."""
        with mlflow_errors(f"read experiment {name!r}", self.connection.tracking_uri):
            experiment = self.connection.client.get_experiment_by_name(name)
        return None if experiment is None else str(experiment.experiment_id)

    def experiment_id(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        connection = self.connection
        with mlflow_errors(f"open experiment {name!r}", connection.tracking_uri):
            experiment = connection.client.get_experiment_by_name(name)
            if experiment is not None:
                if experiment.lifecycle_stage == "deleted":
                    connection.client.restore_experiment(experiment.experiment_id)
                return str(experiment.experiment_id)
            location = None
            if connection.artifact_root is not None:
                location = (connection.artifact_root / safe_dir(name)).as_uri()
            try:
                # the classic ML view in MLflow 3's UI, not the GenAI traces view it guesses for empty ones
                return str(connection.client.create_experiment(name, artifact_location=location, tags=ML_EXPERIMENT))
            except MlflowException as exc:
                # Several processing hosts start together: another one created it first.
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                created = connection.client.get_experiment_by_name(name)
                if created is None:
                    raise
                return str(created.experiment_id)

    def log_to_run(self, run_id: str, metrics: dict[str, float]) -> None:
        """Metrics added to a run that has ended (a date's inference run, once its labels are in)."""
        import time

        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        with mlflow_errors(f"log metrics to run {run_id}", self.connection.tracking_uri):
            self.connection.client.log_batch(run_id, metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()])

    @contextlib.contextmanager
    def run(self, experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[RunLogger]:
        """An active MLflow run; marked FAILED (not left RUNNING) when the block raises."""
        import mlflow

        experiment_id = self.experiment_id(experiment)
        uri = self.connection.tracking_uri
        with mlflow_errors("start a run", uri):
            active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
        status = "FAILED"
        try:
            yield RunLogger(active.info.run_id, active.info.artifact_uri, uri)
            status = "FINISHED"
        finally:
            with mlflow_errors("end the run", uri):
                mlflow.end_run(status=status)


class RunLogger:
    """What a flow may do inside an active run."""

    def __init__(self, run_id: str, artifact_uri: str, tracking_uri: str) -> None:
        self.run_id = run_id
        self.artifact_uri = artifact_uri
        self.tracking_uri = tracking_uri

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        with mlflow_errors("log parameters", self.tracking_uri):
            mlflow.log_params({k: "None" if v is None else v for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float]) -> None:
        import mlflow

        with mlflow_errors("log metrics", self.tracking_uri):
            mlflow.log_metrics(metrics)

    def set_tags(self, tags: dict[str, str]) -> None:
        import mlflow

        with mlflow_errors("set run tags", self.tracking_uri):
            mlflow.set_tags(tags)

    def log_artifacts(self, local_dir: Path, artifact_path: str | None = None) -> None:
        import mlflow

        with mlflow_errors("upload artifacts", self.tracking_uri):
            mlflow.log_artifacts(str(local_dir), artifact_path)

    def log_dataset(self, frame: Any, source: str, name: str, digest: str, targets: str) -> None:
        """Dataset lineage in MLflow's own format (the UI's Datasets column): a reference to the
        source with our content digest, its rows and targets, and the schema read from a sample.
        MLflow's pandas dataset profiles the whole frame (13.5 s for 336k rows); this does not."""
        import mlflow
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.types.utils import _infer_schema

        with mlflow_errors("log the dataset", self.tracking_uri), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset_source: Any
            if "://" not in source and not source.startswith("/"):
                from mlflow.data.code_dataset_source import CodeDatasetSource

                dataset_source = CodeDatasetSource(tags={"mlplatform.source": source})
            else:
                from mlflow.data.http_dataset_source import HTTPDatasetSource

                dataset_source = HTTPDatasetSource(source)  # a URI reference only: nothing is fetched
            schema = _infer_schema(with_missing_values(frame, SAMPLE_ROWS))
            dataset = MetaDataset(dataset_source, name=name, digest=digest, schema=schema)
            mlflow.log_input(dataset, context="training", tags={"rows": str(len(frame)), "targets": targets})

    def log_sklearn_model(
        self,
        model: Any,
        input_example: Any,
        output_example: Any,
        trusted_types: Sequence[str],
        compiled: Path | None = None,
    ) -> LoggedModel:
        """Log with signature and input example (skops, trusting only the types this model needs,
        which must be among the family's `trusted_types`); requirements pinned to what is
        installed, which skips MLflow's ~3 s inference. The signature is inferred from a sample
        (9 s on a 261k-row frame otherwise). `compiled` (the forest compiled for scoring) is
        stored among the model's files, so the digest recorded at registration covers it."""
        import mlflow
        import mlflow.artifacts
        import mlflow.sklearn
        import skops.io
        from mlflow.models import infer_signature

        from mlplatform.errors import PipelineError
        from mlplatform.registry.mlflow.models import folder_digest

        needed = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
        unexpected = [name for name in needed if name not in trusted_types]
        if unexpected:
            raise PipelineError(
                f"the fitted model holds types its family does not declare as safe to load: {', '.join(unexpected)}",
                "add them to the family's trusted_types in mlplatform/models/ after checking them",
            )
        signature = infer_signature(with_missing_values(input_example, SAMPLE_ROWS), output_example)
        with mlflow_errors("log the model", self.tracking_uri), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=input_example.head(5),
                pip_requirements=_pinned_requirements(),
                serialization_format="skops",
                skops_trusted_types=needed,
            )
            if compiled is not None:
                mlflow.MlflowClient().log_model_artifacts(str(info.model_id), str(compiled), compiled.name)
            with tempfile.TemporaryDirectory(prefix="mlplatform-logged-") as tmp:
                local = mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=tmp)
                digest = folder_digest(Path(local))  # as stored: what loading will verify
        return LoggedModel(info.model_uri, info.model_id, digest)


SAMPLE_ROWS = 1000


def with_missing_values(frame: Any, rows: int) -> Any:
    """The first `rows` rows, plus one row with a missing value for each column that has one
    anywhere: a sample that tells the same column types and optionality as the whole frame."""
    head = frame.head(rows)
    missing = frame.isna()
    extra = [int(missing[column].to_numpy().argmax()) for column in frame.columns if missing[column].any()]
    extra = [position for position in extra if position >= rows]
    return head if not extra else frame.iloc[[*range(len(head)), *sorted(set(extra))]]


def _pinned_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "skrub")]
