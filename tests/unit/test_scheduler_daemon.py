"""The scheduler daemon driven by a fake clock: days of schedule in milliseconds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from mlplatform.locks import LockBusyError
from mlplatform.schedules.daemon import DaemonConfig, Job, RunResult, Scheduler, daemon_lock
from mlplatform.schedules.expressions import parse
from mlplatform.schedules.history import RunHistory


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FakeClock:
    """Sleeping advances time; reaching `until` stops the daemon."""

    def __init__(self, start: datetime, until: datetime) -> None:
        self.current = start
        self.until = until
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        self.sleeps.append(seconds)
        target = self.current + timedelta(seconds=max(seconds, 0))
        if target >= self.until:
            self.current = self.until
            stop.set()
            return True
        self.current = target
        return stop.is_set()


class FakeRunner:
    def __init__(self, clock: FakeClock, outcomes: list[str] | None = None, takes: timedelta = timedelta(0)):
        self.clock = clock
        self.outcomes = list(outcomes or [])
        self.takes = takes
        self.calls: list[tuple[str, str, datetime]] = []

    def __call__(self, pipeline, logical_date, stop):
        self.calls.append((pipeline, logical_date, self.clock.now()))
        self.clock.current += self.takes
        status = self.outcomes.pop(0) if self.outcomes else "succeeded"
        return RunResult(status, "boom" if status == "failed" else None, f"run-{len(self.calls)}")


def make(tmp_path, start, until, jobs, outcomes=None, takes=timedelta(0), config=None, input_check=None):
    clock = FakeClock(at(start), at(until))
    runner = FakeRunner(clock, outcomes, takes)
    history = RunHistory(tmp_path / "runs.db")
    scheduler = Scheduler(jobs, runner, history, tmp_path, config or DaemonConfig(retry_backoff_s=60), clock,
                          input_check)  # fmt: skip
    return scheduler, runner, history, clock


DAILY = Job("inference", parse("cron(0 6 * * ? *)"))
WEEKLY = Job("training", parse("cron(0 2 ? * SUN *)"))


def rows(history, pipeline=None):
    return [(r.logical_date, r.trigger, r.attempt, r.status) for r in reversed(history.list(pipeline, 1000))]


def test_runs_each_pipeline_at_its_fire_times_in_order(tmp_path):
    scheduler, runner, history, _ = make(tmp_path, "2026-11-21T05:00:00", "2026-11-24T00:00:00", [DAILY, WEEKLY])
    scheduler.run_forever()
    assert [(p, d, t.isoformat()) for p, d, t in runner.calls] == [
        ("inference", "2026-11-21", "2026-11-21T06:00:00+00:00"),
        ("training", "2026-11-22", "2026-11-22T02:00:00+00:00"),
        ("inference", "2026-11-22", "2026-11-22T06:00:00+00:00"),
        ("inference", "2026-11-23", "2026-11-23T06:00:00+00:00"),
    ]
    assert rows(history, "inference") == [
        ("2026-11-21", "schedule", 1, "succeeded"),
        ("2026-11-22", "schedule", 1, "succeeded"),
        ("2026-11-23", "schedule", 1, "succeeded"),
    ]
    assert history.list("training")[0].mlflow_run_id == "run-2"


def test_logical_date_follows_the_schedule_time_zone(tmp_path):
    tokyo = Job("inference", parse("cron(0 6 * * ? *)", "Asia/Tokyo"))  # 06:00 JST = 21:00 UTC the day before
    scheduler, runner, _, _ = make(tmp_path, "2026-11-21T00:00:00", "2026-11-22T00:00:00", [tokyo])
    scheduler.run_forever()
    assert [(d, t.isoformat()) for _, d, t in runner.calls] == [("2026-11-22", "2026-11-21T21:00:00+00:00")]


def seed_history(history, last_fire: str):
    history.record("inference", last_fire[:10], at(last_fire), "schedule", "succeeded")


def test_missed_runs_latest_policy_runs_only_the_latest_within_grace(tmp_path):
    scheduler, runner, history, _ = make(tmp_path, "2026-11-22T07:00:00", "2026-11-22T08:00:00", [DAILY])
    seed_history(history, "2026-11-18T06:00:00")
    scheduler.run_forever()
    assert [(d, trigger) for _, d, _ in runner.calls for trigger in ["catch-up"]] == [("2026-11-22", "catch-up")]
    assert rows(history)[1:] == [
        ("2026-11-19", "schedule", 1, "missed"),
        ("2026-11-20", "schedule", 1, "missed"),
        ("2026-11-21", "schedule", 1, "missed"),
        ("2026-11-22", "catch-up", 1, "succeeded"),
    ]


def test_missed_run_older_than_the_grace_period_is_not_run(tmp_path):
    scheduler, runner, history, _ = make(tmp_path, "2026-11-22T13:00:00", "2026-11-22T14:00:00", [DAILY])
    seed_history(history, "2026-11-21T06:00:00")
    scheduler.run_forever()
    assert runner.calls == []
    latest = history.list("inference", 1)[0]
    assert (latest.logical_date, latest.status) == ("2026-11-22", "missed")
    assert "older than the grace period" in latest.error


def test_missed_runs_all_policy_catches_up_in_order_up_to_the_limit(tmp_path):
    config = DaemonConfig(missed_runs="all", catch_up_limit=2)
    scheduler, runner, history, _ = make(tmp_path, "2026-11-22T07:00:00", "2026-11-22T08:00:00", [DAILY],
                                         config=config)  # fmt: skip
    seed_history(history, "2026-11-18T06:00:00")
    scheduler.run_forever()
    assert [d for _, d, _ in runner.calls] == ["2026-11-21", "2026-11-22"]
    assert [r[3] for r in rows(history)[1:]] == ["missed", "missed", "succeeded", "succeeded"]


def test_first_start_has_nothing_to_catch_up(tmp_path):
    scheduler, runner, history, _ = make(tmp_path, "2026-11-22T07:00:00", "2026-11-22T08:00:00", [DAILY])
    scheduler.run_forever()
    assert runner.calls == [] and history.list() == []


def test_failed_runs_are_retried_with_exponential_backoff(tmp_path):
    scheduler, runner, history, clock = make(
        tmp_path, "2026-11-22T05:59:00", "2026-11-22T07:00:00", [DAILY], outcomes=["failed", "failed", "succeeded"]
    )
    scheduler.run_forever()
    assert [r[2:] for r in rows(history)] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert clock.sleeps[1:3] == [60.0, 120.0]
    assert [t.isoformat()[11:19] for _, _, t in runner.calls] == ["06:00:00", "06:01:00", "06:03:00"]


def test_final_failure_is_recorded_after_the_last_retry(tmp_path):
    config = DaemonConfig(max_retries=1, retry_backoff_s=10)
    scheduler, runner, history, _ = make(
        tmp_path, "2026-11-22T05:59:00", "2026-11-22T07:00:00", [DAILY], outcomes=["failed"] * 5, config=config
    )
    scheduler.run_forever()
    assert len(runner.calls) == 2
    final = history.list("inference", 1)[0]
    assert (final.attempt, final.status, final.error) == (2, "failed", "boom")


def test_fires_that_pass_during_a_long_run_are_skipped_not_stacked(tmp_path):
    hourly = Job("inference", parse("cron(0 * * * ? *)"))
    scheduler, runner, history, _ = make(tmp_path, "2026-11-22T05:30:00", "2026-11-22T09:30:00", [hourly],
                                         takes=timedelta(hours=2, minutes=10))  # fmt: skip
    scheduler.run_forever()
    assert [t.isoformat()[11:16] for _, _, t in runner.calls] == ["06:00", "09:00"]
    statuses = [(r.scheduled_at[11:16], r.status) for r in reversed(history.list())]
    assert statuses == [
        ("06:00", "succeeded"), ("07:00", "skipped"), ("08:00", "skipped"),
        ("09:00", "succeeded"), ("10:00", "skipped"), ("11:00", "skipped"),  # the 09:00 run also overran
    ]  # fmt: skip


def test_inference_waits_for_its_input_then_skips(tmp_path):
    config = DaemonConfig(input_wait_timeout_s=600, input_poll_s=60)
    scheduler, runner, history, clock = make(
        tmp_path, "2026-11-22T05:59:00", "2026-11-22T07:00:00", [DAILY], config=config,
        input_check=lambda d: (False, f"no _SUCCESS marker yet in date={d}"),
    )  # fmt: skip
    scheduler.run_forever()
    assert runner.calls == []
    skipped = history.list("inference", 1)[0]
    assert skipped.status == "skipped"
    assert skipped.error == "no input: no _SUCCESS marker yet in date=2026-11-22"
    assert clock.sleeps[1:11] == [60] * 10


def test_inference_runs_once_its_input_is_complete(tmp_path):
    checks = iter([False, False, True])
    config = DaemonConfig(input_wait_timeout_s=600, input_poll_s=60)
    scheduler, runner, _, _ = make(tmp_path, "2026-11-22T05:59:00", "2026-11-22T07:00:00", [DAILY], config=config,
                                   input_check=lambda d: (next(checks), "x"))  # fmt: skip
    scheduler.run_forever()
    assert [t.isoformat()[11:16] for _, _, t in runner.calls] == ["06:02"]


def test_a_second_daemon_on_the_same_state_directory_is_refused(tmp_path):
    scheduler, _, _, _ = make(tmp_path, "2026-11-22T05:00:00", "2026-11-22T07:00:00", [DAILY])
    with daemon_lock(tmp_path), pytest.raises(LockBusyError, match="already running"):
        scheduler.run_forever()


def test_runs_left_running_by_a_dead_daemon_are_marked_interrupted(tmp_path):
    history = RunHistory(tmp_path / "runs.db")
    history.start("inference", "2026-11-21", at("2026-11-21T06:00:00"), "schedule")
    assert history.interrupt_running() == 1
    assert history.list()[0].status == "interrupted"


def test_stop_during_a_run_takes_no_new_runs(tmp_path):
    scheduler, runner, _, _ = make(tmp_path, "2026-11-22T05:00:00", "2026-11-30T00:00:00", [DAILY])
    original = runner.__call__

    def stop_while_running(pipeline, logical_date, stop):
        result = original(pipeline, logical_date, stop)
        stop.set()
        return result

    scheduler.runner = stop_while_running
    scheduler.run_forever()
    assert len(runner.calls) == 1


def test_overdue_fires_are_those_past_the_grace_period_with_no_record():
    from mlplatform.schedules.daemon import overdue_fires

    daily = parse("cron(0 2 * * ? *)")
    overdue = overdue_fires(daily, at("2026-11-18T02:00:00"), at("2026-11-22T06:00:00"), timedelta(hours=6))
    assert overdue == [at("2026-11-19T02:00:00"), at("2026-11-20T02:00:00"), at("2026-11-21T02:00:00")]
    # today's 02:00 fire is within the grace period: the daemon may still be catching up
    assert overdue_fires(daily, at("2026-11-21T02:00:00"), at("2026-11-22T06:00:00"), timedelta(hours=6)) == []
    assert len(overdue_fires(parse("rate(1 minute)"), at("2026-01-01T00:00:00"), at("2026-11-22T00:00:00"),
                             timedelta(0))) == 1000  # fmt: skip


def test_runs_left_running_by_a_killed_daemon_are_reconciled_or_interrupted(tmp_path):
    history = RunHistory(tmp_path / "runs.db")
    committed = history.start("inference", "2026-11-20", at("2026-11-20T02:00:00"), "schedule")
    killed = history.start("inference", "2026-11-21", at("2026-11-21T02:00:00"), "schedule")
    seen = []

    def reconcile(record):
        seen.append(record.logical_date)
        return ("reconciled from the committed output", "mlflow-run") if record.id == committed else None

    scheduler, *_ = make(tmp_path, "2026-11-22T00:00:00", "2026-11-22T00:00:01",
                        [Job("inference", parse("cron(0 2 * * ? *)"))])  # fmt: skip
    scheduler.reconcile = reconcile
    scheduler.run_forever()
    rows = {r.id: r for r in history.list()}
    assert seen == ["2026-11-20", "2026-11-21"]
    assert rows[committed].status == "succeeded" and rows[committed].mlflow_run_id == "mlflow-run"
    assert rows[killed].status == "interrupted"


def test_the_retrain_policy_is_asked_after_each_scoring_run_and_starts_training_with_its_reason(tmp_path):
    scheduler, runner, history, _ = make(tmp_path, "2026-11-21T05:00:00", "2026-11-23T00:00:00", [DAILY])
    answers = iter(["retrain: realized f1_macro 0.61 on 2026-11-21 is below the reference 0.93", None])
    scheduler.retrain_check = lambda: next(answers, None)
    scheduler.policy_every = timedelta(days=30)  # only the runs ask, in this test
    scheduler.run_forever()
    assert [(p, d) for p, d, _ in runner.calls] == [
        ("inference", "2026-11-21"),
        ("training", "2026-11-21"),  # started by the policy right after the scoring run
        ("inference", "2026-11-22"),
    ]
    policy = [r for r in history.list() if r.trigger == "policy"]
    assert len(policy) == 1 and policy[0].detail.startswith("retrain: realized f1_macro 0.61")


def test_the_policy_is_also_asked_between_fires_so_late_labels_count(tmp_path):
    scheduler, runner, _, clock = make(tmp_path, "2026-11-21T07:00:00", "2026-11-21T12:00:00", [DAILY])
    asked: list[datetime] = []

    def check():
        asked.append(clock.now())
        return "retrain: degraded" if len(asked) == 2 else None

    scheduler.retrain_check = check
    scheduler.policy_every = timedelta(hours=1)
    scheduler.run_forever()
    assert [t.hour for t in asked][:3] == [8, 9, 10]
    assert [(p, d) for p, d, _ in runner.calls] == [("training", "2026-11-21")]


def test_after_each_run_the_hook_runs_and_its_failure_does_not_stop_the_daemon(tmp_path):
    scheduler, runner, _, _ = make(tmp_path, "2026-11-21T05:00:00", "2026-11-23T00:00:00", [DAILY])
    seen = []

    def hook(pipeline):
        seen.append(pipeline)
        raise OSError("disk full")

    scheduler.after_run = hook
    scheduler.run_forever()
    assert seen == ["inference", "inference"] and len(runner.calls) == 2


def test_the_hook_runs_once_a_run_after_its_last_attempt_not_after_each_retry(tmp_path):
    scheduler, runner, _, _ = make(
        tmp_path, "2026-11-22T05:59:00", "2026-11-22T07:00:00", [DAILY], outcomes=["failed", "failed", "succeeded"]
    )
    seen = []
    scheduler.after_run = lambda pipeline: seen.append((pipeline, len(runner.calls)))
    scheduler.run_forever()
    assert seen == [("inference", 3)]
