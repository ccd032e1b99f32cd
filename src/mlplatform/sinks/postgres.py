"""Predictions as rows of a PostgreSQL table, one transaction per date.

    model, date, shard, row_id        the key: one row per prediction (shard '' on one host)
    prediction_id, version, predicted_class | predicted_value, probabilities (jsonb),
    inference_run_id, scored_at

While a run scores, each batch is bulk-loaded with COPY into a temporary table of the run's own
connection; `finish` replaces the date's rows (DELETE + INSERT ... SELECT) inside the run's one
transaction, and `commit` commits it just before the `_SUCCESS` manifest is written. Readers see
the old rows or the new ones, never a mix; a run that dies or fails validation rolls back and
leaves the old rows; a re-run replaces, never duplicates. Two runs of one date from different
machines are serialised by an advisory lock on the date.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from mlplatform.clients import Clients
from mlplatform.errors import ConfigError, PipelineError
from mlplatform.redact import redact
from mlplatform.scoring.messages import RunStamp, probabilities_json
from mlplatform.sinks.base import PredictionBatch, Sink, SinkResult

if TYPE_CHECKING:
    from psycopg import Connection

    from mlplatform.config.inference import PostgresSettings

COLUMNS = (
    "model",
    "date",
    "shard",
    "row_id",
    "prediction_id",
    "version",
    "predicted_class",
    "predicted_value",
    "probabilities",
    "inference_run_id",
    "scored_at",
)
CREATE = """CREATE TABLE IF NOT EXISTS {table} (
    model text NOT NULL,
    date date NOT NULL,
    shard text NOT NULL DEFAULT '',
    row_id text NOT NULL,
    prediction_id text NOT NULL,
    version text,
    predicted_class text,
    predicted_value double precision,
    probabilities jsonb,
    inference_run_id text NOT NULL,
    scored_at timestamptz,
    PRIMARY KEY (model, date, shard, row_id)
)"""


class PostgresSink(Sink):
    """Each date's predictions in one table, replaced in one transaction."""

    name = "postgres"
    preflight = "PostgreSQL"

    def __init__(self, settings: PostgresSettings, clients: Clients, shard: str | None = None) -> None:
        self.settings = settings
        self.clients = clients
        self.shard = shard or ""
        self.connection: Connection[Any] | None = None
        self.stamp: RunStamp | None = None
        self.rows = 0

    def check(self) -> str:
        with self._connect() as connection:
            found = connection.execute("SELECT to_regclass(%s)", (self.settings.table,)).fetchone()
        exists = found is not None and found[0] is not None
        return f"{self.settings.table} on {self._target()}" + ("" if exists else " (created at the first run)")

    def open(self, stamp: RunStamp) -> None:
        from psycopg import sql

        self.stamp, self.rows = stamp, 0
        connection = self._connect()
        try:
            connection.execute(sql.SQL(CREATE).format(table=self._table()))
            connection.commit()  # the table exists whatever this run does
            query = "CREATE TEMP TABLE mlplatform_staging (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
            connection.execute(sql.SQL(query).format(table=self._table()))
        except BaseException:
            connection.close()
            raise
        self.connection = connection

    def write(self, batch: PredictionBatch) -> None:
        connection = self._opened(self.connection)
        if not len(batch):
            return
        data = _csv_rows(batch, self.shard)
        with self._errors("load a batch"), connection.cursor() as cursor:
            statement = f"COPY mlplatform_staging ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv)"
            with cursor.copy(statement) as copy:
                copy.write(data)
        self.rows += len(batch)

    def finish(self) -> SinkResult:
        """The date's rows replaced inside the run's transaction: nothing visible before commit."""
        from psycopg import sql

        connection, stamp = self._opened(self.connection), self._opened(self.stamp)
        key = (stamp.model_name, stamp.run_date, self.shard)
        with self._errors("replace the date's rows"), connection.cursor() as cursor:
            lock = json.dumps([self.settings.table, *key])
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
            delete = "DELETE FROM {table} WHERE model = %s AND date = %s AND shard = %s"
            cursor.execute(sql.SQL(delete).format(table=self._table()), key)
            replaced = cursor.rowcount
            cursor.execute(sql.SQL("INSERT INTO {table} SELECT * FROM mlplatform_staging").format(table=self._table()))
        section = {"table": self.settings.table, "target": self._target(), "rows": self.rows, "replaced": replaced}
        summary = f"{self.rows:,} rows in {self.settings.table} on {self._target()} (replacing {replaced:,})"
        return SinkResult(self.name, section, summary, {"postgres_rows": self.rows})

    def commit(self, manifest: dict[str, Any]) -> None:
        connection = self._opened(self.connection)
        with self._errors("commit the date's rows"):
            connection.commit()
        connection.close()
        self.connection = None

    def abort(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()  # an open transaction is rolled back by the server

    def _connect(self) -> Connection[Any]:
        import psycopg

        try:
            return psycopg.connect(self._conninfo(), connect_timeout=10, application_name="mlplatform")
        except psycopg.Error as exc:
            raise PipelineError(
                f"PostgreSQL at {self._target()} is unreachable ({_first_line(exc)})",
                "check MLPLATFORM_INFERENCE__POSTGRES__DSN (or the secret) and that the server accepts connections",
            ) from None

    def _conninfo(self) -> str:
        if self.settings.dsn is not None:
            return self.settings.dsn.get_secret_value()
        arn = str(self.settings.secret_arn)
        text = self.clients.secret_string(arn, "PostgreSQL", "MLPLATFORM_INFERENCE__POSTGRES__SECRET_ARN")
        return conninfo_from_secret(text, arn)

    def _target(self) -> str:
        """host:port/dbname, for people: never the password."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            parts = conninfo_to_dict(self.settings.dsn.get_secret_value()) if self.settings.dsn else {}
        except Exception:  # noqa: BLE001 - an unparsable DSN is reported by connect()
            parts = {}
        if not parts:
            return self.settings.secret_arn or "the configured server"
        return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"

    def _table(self) -> Any:
        from psycopg import sql

        return sql.Identifier(*self.settings.table.split("."))

    def _errors(self, action: str) -> AbstractContextManager[None]:
        return _postgres_errors(action, self._target())


@contextmanager
def _postgres_errors(action: str, target: str) -> Iterator[None]:
    """psycopg failures as one PipelineError naming the action and the server (redacted)."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise PipelineError(
            f"PostgreSQL at {target}: cannot {action} ({_first_line(exc)})",
            "check the server and the table's permissions, then re-run the date",
        ) from None


def conninfo_from_secret(text: str, arn: str) -> str:
    """A DSN from a Secrets Manager secret: RDS's JSON (username, password, host, port, dbname)
    or the DSN itself."""
    from psycopg.conninfo import make_conninfo

    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()
    if not isinstance(value, dict) or not {"username", "password", "host"} <= value.keys():
        raise ConfigError(
            f"the PostgreSQL secret {arn} is neither a DSN nor JSON with username, password and host",
            "store RDS's JSON format or a postgresql:// URI",
        )
    return make_conninfo(
        host=str(value["host"]),
        port=str(value.get("port", 5432)),
        dbname=str(value.get("dbname", "postgres")),
        user=str(value["username"]),
        password=str(value["password"]),
    )


def _csv_rows(batch: PredictionBatch, shard: str) -> bytes:
    """The batch as CSV rows in COLUMNS order (nulls unquoted-empty, as COPY reads NULL)."""
    import pyarrow.csv as pcsv

    table, stamp, size = batch.table, batch.stamp, len(batch)

    def constant(value: str) -> pa.Array:
        return pa.repeat(pa.scalar(value, pa.string()), size)

    classes = batch.classes
    nothing = pa.nulls(size, pa.string())
    rows = pa.table(
        {
            "model": constant(stamp.model_name),
            "date": constant(stamp.run_date),
            "shard": constant(shard),
            "row_id": pc.cast(table.column("row_id"), pa.string()),
            "prediction_id": table.column("prediction_id"),
            "version": constant(stamp.model_version),
            "predicted_class": table.column("predicted_class") if classes else nothing,
            "predicted_value": table.column("predicted_value") if not classes else pa.nulls(size, pa.float64()),
            "probabilities": probabilities_json(table, classes) if classes else nothing,
            "inference_run_id": constant(stamp.inference_run_id),
            "scored_at": constant(stamp.scored_at),
        }
    )
    sink = pa.BufferOutputStream()
    pcsv.write_csv(rows, sink, pcsv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def _first_line(exc: BaseException) -> str:
    return redact((str(exc).strip().splitlines() or [type(exc).__name__])[0])[:300]
