"""Closing the loop, the pure parts: realized quality with intervals, the label-free estimate, the
retrain policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score

from mlplatform.monitoring.estimate import ExpectedConfusion, calibrate, fit_calibration
from mlplatform.monitoring.policy import DateEvidence, DriftRule, Evidence, RetrainPolicy, decide
from mlplatform.monitoring.quality import ClassificationQuality, Realized, RegressionQuality, quality_status


def noisy_classes(n: int, k: int, correct: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    predicted = np.where(rng.random(n) < correct, labels, rng.integers(0, k, n))
    return labels, predicted


@pytest.mark.parametrize("batch", [7, 1000, 50_000])
def test_realized_classification_metrics_match_scikit_learn_whatever_the_batches(batch):
    labels, predicted = noisy_classes(20_000, 4, 0.7)
    labels[:50] = 4  # a class the model never predicts: it counts, as scikit-learn counts it
    quality = ClassificationQuality(5)
    for start in range(0, len(labels), batch):
        quality.add(labels[start : start + batch], predicted[start : start + batch])
    result = quality.result()
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert result.value == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert result.ci_low < result.value < result.ci_high
    assert result.labels == 20_000


@pytest.mark.parametrize("rows", [1, 37, 999, 1000, 1001, 4321])
def test_every_row_counts_whatever_the_number_of_rows(rows):
    labels, predicted = noisy_classes(rows, 3, 0.8)
    quality = ClassificationQuality(3)
    quality.add(labels, predicted)
    assert quality.result().labels == rows
    assert quality.result().metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    regression = RegressionQuality()
    regression.add(labels.astype(float), predicted.astype(float))
    assert regression.result().labels == rows


def test_the_interval_narrows_with_more_labels_and_covers_the_truth():
    widths, covered = [], 0
    for n in (200, 2_000, 20_000):
        quality = ClassificationQuality(3)
        quality.add(*noisy_classes(n, 3, 0.8, seed=n))
        result = quality.result()
        widths.append(result.ci_high - result.ci_low)
    assert widths[0] > widths[1] > widths[2] > 0
    for seed in range(40):  # the true accuracy is 0.8 + 0.2/3; the interval should hold it ~95% of the time
        quality = ClassificationQuality(3)
        quality.add(*noisy_classes(1_000, 3, 0.8, seed=100 + seed))
        result = quality.result(seed=seed)
        true_f1 = 0.8 + 0.2 / 3
        covered += result.ci_low <= true_f1 <= result.ci_high
    assert covered >= 33


def test_realized_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    labels = rng.normal(100, 20, 5_000)
    predicted = labels + rng.normal(0, 5, 5_000)
    quality = RegressionQuality()
    quality.add(labels[:1234], predicted[:1234])
    quality.add(labels[1234:], predicted[1234:])
    result = quality.result()
    assert result.metric == "rmse"
    assert result.value == pytest.approx(np.sqrt(mean_squared_error(labels, predicted)))
    assert result.metrics["mae"] == pytest.approx(mean_absolute_error(labels, predicted))
    assert result.metrics["r2"] == pytest.approx(r2_score(labels, predicted))
    assert result.ci_low < result.value < result.ci_high


@pytest.mark.parametrize(
    ("realized", "reference", "coverage", "expected"),
    [
        (None, 0.9, 0.0, "no-labels"),
        (Realized("f1_macro", 0.80, 0.78, 0.82, 500, {}), 0.90, 0.9, "degraded"),
        (Realized("f1_macro", 0.86, 0.80, 0.89, 500, {}), 0.90, 0.9, "ok"),  # within tolerance at the top
        (Realized("f1_macro", 0.80, 0.78, 0.82, 500, {}), 0.90, 0.1, "insufficient"),
        (Realized("f1_macro", 0.80, 0.70, 0.90, 10, {}), 0.90, 0.9, "insufficient"),
        (Realized("rmse", 12.0, 11.0, 13.0, 500, {}), 10.0, 0.9, "degraded"),  # lower is better
        (Realized("rmse", 10.5, 9.5, 11.5, 500, {}), 10.0, 0.9, "ok"),
        (Realized("f1_macro", 0.5, 0.4, 0.6, 500, {}), None, 0.9, "ok"),  # no reference: nothing to fall from
    ],
)
def test_quality_status(realized, reference, coverage, expected):
    status = quality_status(realized, reference, coverage, tolerance=0.02, min_coverage=0.5, min_labels=30)
    assert status == expected


def test_the_label_free_estimate_is_close_to_the_realized_accuracy_on_calibrated_data():
    """Probabilities that overstate confidence are calibrated on a holdout; the estimate on new
    rows from the same distribution is then within a point or two of the truth."""
    rng = np.random.default_rng(3)

    def sample(n):
        labels = rng.integers(0, 3, n)
        logits = rng.normal(0, 1, (n, 3))
        logits[np.arange(n), labels] += 1.2
        raw = np.exp(3 * logits)  # sharpened: overconfident
        return raw / raw.sum(axis=1, keepdims=True), labels

    holdout, holdout_labels = sample(5_000)
    calibration = fit_calibration(holdout, holdout_labels)
    assert abs(calibrate(holdout, calibration).sum(axis=1) - 1).max() < 1e-9

    new, new_labels = sample(20_000)
    predicted = new.argmax(axis=1)
    expected = ExpectedConfusion(calibration)
    expected.add(new[:7_000], predicted[:7_000])
    expected.add(new[7_000:], predicted[7_000:])
    estimates = expected.estimates()
    realized = accuracy_score(new_labels, predicted)
    uncalibrated = new.max(axis=1).mean()
    assert abs(estimates["accuracy"] - realized) < 0.02
    assert abs(uncalibrated - realized) > 0.05  # the raw confidence would have been far off
    assert abs(estimates["f1_macro"] - f1_score(new_labels, predicted, average="macro")) < 0.03


NOW = datetime(2026, 11, 30, tzinfo=UTC)


def evidence(*dates: DateEvidence, since_days: float = 10, trained_days: float = 10) -> Evidence:
    return Evidence("3", NOW - timedelta(days=since_days), NOW - timedelta(days=trained_days), dates)


def day(date: str, version: str = "3", quality: str | None = None, drifted: tuple[str, ...] = ()) -> DateEvidence:
    return DateEvidence(date, version, quality, 0.8, 0.9, "f1_macro", drifted)


def test_a_degraded_date_of_the_champion_triggers_a_retrain_with_its_evidence():
    decision = decide(
        RetrainPolicy(on_quality_drop=True),
        evidence(day("2026-11-27", quality="ok"), day("2026-11-28", quality="degraded")),
        NOW,
    )
    assert decision.action == "retrain"
    (reason,) = decision.fired
    assert reason.rule == "on_quality_drop" and "2026-11-28" in reason.detail
    assert reason.evidence["dates"][0]["value"] == 0.8


def test_evidence_of_another_version_does_not_count():
    decision = decide(RetrainPolicy(on_quality_drop=True), evidence(day("2026-11-28", "2", quality="degraded")), NOW)
    assert decision.action == "wait"


def test_drift_needs_k_features_on_n_of_the_last_m_dates():
    rule = RetrainPolicy(on_drift=DriftRule(features=2, dates=2, window=3))
    two = ("a", "b")
    assert decide(rule, evidence(day("01", drifted=two), day("02"), day("03", drifted=two)), NOW).action == "retrain"
    assert decide(rule, evidence(day("01", drifted=two), day("02"), day("03", drifted=("a",))), NOW).action == "wait"
    # the window is the champion's last three dates: an old drift is out of it
    old = evidence(day("01", drifted=two), day("02", drifted=two), day("03"), day("04"), day("05"))
    assert decide(rule, old, NOW).action == "wait"


def test_age_and_cooldown():
    aged = RetrainPolicy(max_age_days=30, cooldown_days=7)
    assert decide(aged, evidence(since_days=10), NOW).action == "wait"
    assert decide(aged, evidence(since_days=40, trained_days=40), NOW).action == "retrain"
    cooling = decide(aged, evidence(since_days=40, trained_days=2), NOW)
    assert cooling.action == "cooldown" and cooling.reasons[-1].rule == "cooldown_days"
    assert "max_age_days" in [r.rule for r in cooling.fired]


def test_nothing_configured_waits_and_says_so():
    decision = decide(RetrainPolicy(), evidence(day("01", quality="degraded")), NOW)
    assert decision.action == "wait" and decision.summary() == "wait: no rule fired"
