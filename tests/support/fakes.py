"""Small in-memory stand-ins for the adapters a flow talks through, so the flows' behaviour can be
tested without servers: MLflow (a model to resolve, runs that record what is logged) and the
Kafka producer (librdkafka's Producer, with deliveries that can be made to fail).

They implement only what the flows call, with the same signatures, and record what happened."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlplatform.clients import Clients
from mlplatform.registry.mlflow.models import ResolvedModel

# -- MLflow


@dataclass
class FakeRun:
    run_id: str
    experiment: str
    name: str
    tags: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    status: str = "RUNNING"
    artifact_uri: str = "fake://artifacts"
    tracking_uri: str = "fake://mlflow"

    def log_params(self, params: dict[str, Any]) -> None:
        self.params |= params

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self.metrics |= {k: float(v) for k, v in metrics.items()}

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tags |= tags

    def log_artifacts(self, local_dir: Path, artifact_path: str | None = None) -> None:
        self.artifacts += sorted(str(p.relative_to(local_dir)) for p in Path(local_dir).rglob("*") if p.is_file())


class FakeTracking:
    def __init__(self) -> None:
        self.runs: list[FakeRun] = []
        self._ids = itertools.count(1)

    def log_to_run(self, run_id: str, metrics: dict[str, float]) -> None:
        next(run for run in self.runs if run.run_id == run_id).log_metrics(metrics)

    @contextlib.contextmanager
    def run(self, experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[FakeRun]:
        run = FakeRun(f"run{next(self._ids):04d}", experiment, run_name, dict(tags))
        self.runs.append(run)
        try:
            yield run
            run.status = "FINISHED"
        except BaseException:
            run.status = "FAILED"
            raise


class FakeLoader:
    def __init__(self, models: dict[str, ResolvedModel]) -> None:
        self.models = models

    def resolve(self, uri: str) -> ResolvedModel:
        from mlplatform.errors import ModelNotFoundError

        if uri not in self.models:
            raise ModelNotFoundError(f"no model {uri}", f"one of {sorted(self.models)}")
        return self.models[uri]


@dataclass
class FakeMlflow:
    """What the scoring flow asks of `registry.mlflow.Mlflow`."""

    loader: FakeLoader
    tracking: FakeTracking = field(default_factory=FakeTracking)
    tracking_uri: str = "fake://mlflow"

    @classmethod
    def serving(cls, model: ResolvedModel, uri: str = "models:/iris-model@production") -> FakeMlflow:
        return cls(FakeLoader({uri: model}))


def trained_iris(n_estimators: int = 10, uri: str = "models:/iris-model@production") -> ResolvedModel:
    """The default pipeline fitted on the built-in Iris in memory, with its training profile: what
    `mlplatform train` registers, minus MLflow."""
    from mlplatform.data.loading import iris_frame
    from mlplatform.data.profile import build_profile
    from mlplatform.data.validation import validate_training_frame
    from mlplatform.models import get_spec
    from mlplatform.training import fit as training

    spec = get_spec("random_forest")
    params = spec.parse_params({"n_estimators": n_estimators, "random_state": 0})
    data = validate_training_frame(iris_frame(), "species", 0.2)
    holdout = training.split(data, 0.2, 0)
    model, _ = training.fit(spec, params, data, holdout.x_train, holdout.y_train)
    profile = build_profile(holdout.x_train, data.plan.kinds, holdout.y_train, data.task, target="species")
    kinds = dict(data.plan.kinds)
    return ResolvedModel(uri, "iris-model", "1", "trainrun", model, list(kinds), profile, kinds)


# -- SageMaker


class FakeSageMaker:
    """`start_pipeline_execution` as SageMaker answers it: the request checked against botocore's
    shape, one execution per ClientRequestToken (a repeated token returns the same ARN), or the
    error `refuse` names (an AWS error code) for every call."""

    def __init__(self, refuse: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.executions: dict[str, str] = {}  # token -> execution ARN
        self.refuse = refuse

    def start_pipeline_execution(self, **request: Any) -> dict[str, str]:
        import botocore.session
        from botocore.exceptions import ClientError, ParamValidationError
        from botocore.validate import ParamValidator

        model = botocore.session.get_session().get_service_model("sagemaker")
        report = ParamValidator().validate(request, model.operation_model("StartPipelineExecution").input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        self.requests.append(request)
        if self.refuse:
            error = {"Code": self.refuse, "Message": "not authorized to perform: sagemaker:StartPipelineExecution"}
            raise ClientError({"Error": error}, "StartPipelineExecution")
        token = request.get("ClientRequestToken") or f"untokened-{len(self.requests)}"
        name = request["PipelineName"]
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{name}/execution/{len(self.executions) + 1:012d}"
        return {"PipelineExecutionArn": self.executions.setdefault(token, arn)}


# -- Kafka


class FakeKafkaError:
    """The parts of confluent_kafka.KafkaError the producer's callbacks read."""

    def __init__(self, code: int, text: str, fatal: bool = False) -> None:
        self._code, self._text, self._fatal = code, text, fatal

    def code(self) -> int:
        return self._code

    def str(self) -> str:
        return self._text

    def fatal(self) -> bool:
        return self._fatal


@dataclass
class FakeMessage:
    topic: str
    value: str
    key: str
    headers: list[tuple[str, bytes]] | None = None

    def key_bytes(self) -> bytes:
        return self.key.encode()


class _Delivered:
    def __init__(self, message: FakeMessage) -> None:
        self.message = message

    def key(self) -> bytes:
        return self.message.key.encode()


@dataclass
class _Topic:
    partitions: dict[int, object]
    error: Any = None


@dataclass
class _Metadata:
    topics: dict[str, _Topic]


class FakeProducer:
    """librdkafka's Producer as the publisher uses it: messages are acknowledged on `poll` /
    `flush`; `refuse(key)` makes that message's delivery fail (as a broker refusing it would);
    `queue_limit` makes `produce` raise BufferError like a full local queue."""

    def __init__(self, config: dict[str, Any], topics: dict[str, int], log: list[FakeMessage]) -> None:
        self.config = config
        self.topics = topics
        self.acknowledged = log
        self.queued: list[FakeMessage] = []
        self.refused: set[str] = set()
        self.queue_limit = 1_000_000
        self.broker_gone_after: int | None = None  # acknowledgements before the broker goes away
        self.in_flight: list[FakeMessage] = []  # sent when it went, never acknowledged
        self.in_flight_limit = 0

    def produce(self, topic: str, value: str, key: str, headers: Any = None) -> None:
        if len(self.queued) >= self.queue_limit:
            raise BufferError("Local: Queue full")
        self.queued.append(FakeMessage(topic, value, key, headers))

    def poll(self, timeout: float = 0) -> int:
        return self._deliver()

    def flush(self, timeout: float = 0) -> int:
        self._deliver()
        return len(self)

    def purge(self) -> None:
        from confluent_kafka import KafkaError

        in_flight, self.in_flight = self.in_flight, []
        for message in in_flight:
            self.config["on_delivery"](
                FakeKafkaError(KafkaError._PURGE_INFLIGHT, "Local: Purged in flight"), _Delivered(message)
            )
        purged, self.queued = self.queued, []
        for message in purged:
            self.config["on_delivery"](
                FakeKafkaError(KafkaError._PURGE_QUEUE, "Local: Purged in queue"), _Delivered(message)
            )

    def list_topics(self, topic: str | None = None, timeout: float = 0) -> _Metadata:
        return _Metadata({name: _Topic(dict.fromkeys(range(n))) for name, n in self.topics.items()})

    def __len__(self) -> int:
        return len(self.queued) + len(self.in_flight)

    def _deliver(self) -> int:
        from confluent_kafka import KafkaError

        if self.broker_gone_after is not None:  # deliver up to the cut, put some on the wire, keep the rest
            room = max(self.broker_gone_after - len(self.acknowledged), 0)
            wire = max(self.in_flight_limit - len(self.in_flight), 0)
            self.acknowledged.extend(self.queued[:room])
            self.in_flight.extend(self.queued[room : room + wire])
            self.queued = self.queued[room + wire :]
            return room
        delivered, self.queued = self.queued, []
        for message in delivered:
            if message.key in self.refused:
                error = FakeKafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Broker: Topic authorization failed")
                self.config["on_delivery"](error, _Delivered(message))
            else:
                self.acknowledged.append(message)
        return len(delivered)


class FakeKafkaClients(Clients):
    """`Clients` whose Kafka producers are FakeProducers sharing one log of acknowledged messages."""

    def __init__(self, topics: dict[str, int] | None = None, refuse: Callable[[str], bool] | None = None) -> None:
        super().__init__()
        self.topics = topics if topics is not None else {"predictions": 4}
        self.acknowledged: list[FakeMessage] = []
        self.producers: list[FakeProducer] = []
        self.refuse = refuse

    def kafka_producer(self, config: dict[str, Any]) -> FakeProducer:
        producer = FakeProducer(config, self.topics, self.acknowledged)
        if self.refuse is not None:
            producer.refused = _Refusals(self.refuse)  # type: ignore[assignment]
        self.producers.append(producer)
        return producer


class _Refusals(set):
    def __init__(self, rule: Callable[[str], bool]) -> None:
        super().__init__()
        self.rule = rule

    def __contains__(self, key: object) -> bool:
        return self.rule(str(key))


def iris_rows(count: int) -> pd.DataFrame:
    """Plausible Iris measurements, for inputs written by tests."""
    from mlplatform.data.loading import iris_frame

    frame = iris_frame().drop(columns="species")
    return frame.sample(count, replace=True, random_state=0).reset_index(drop=True)
