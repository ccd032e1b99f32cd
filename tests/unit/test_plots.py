"""Plots stay cheap: every PSI and the bins of the most drifted on wide tables, a sample in big scatters."""

from __future__ import annotations

from pathlib import Path

import pytest


def drift_report(features: int) -> dict:
    bins = [0.25, 0.25, 0.25, 0.25]
    return {
        "threshold": 0.2,
        "features": {
            f"f{i:02d}": {"expected": bins, "actual": bins[::-1], "psi": i / 100, "ks": None, "kind": "numeric"}
            for i in range(features)
        },
    }


@pytest.mark.parametrize(("features", "panels"), [(23, 6), (3, 3)])
def test_the_drift_plot_shows_every_psi_and_the_bins_of_the_most_drifted(features, panels, tmp_path: Path, monkeypatch):
    from mlplatform import plots

    plt = plots._pyplot()
    drawn = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (drawn.append(fig), close(fig)))

    path = plots.drift_png(drift_report(features), tmp_path / "drift.png")

    assert path.stat().st_size > 10_000
    (figure,) = drawn
    summary, *bins = figure.axes
    assert len(summary.get_yticklabels()) == features  # every feature's PSI
    assert [ax.get_title().split(":")[0] for ax in bins] == [
        f"f{i:02d}" for i in range(features - 1, features - 1 - panels, -1)
    ]


def test_a_holdout_scatter_draws_a_sample_and_says_so(tmp_path: Path, monkeypatch):
    import numpy as np

    from mlplatform import plots

    plt = plots._pyplot()
    drawn = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (drawn.append(fig), close(fig)))
    actual = np.random.default_rng(0).normal(size=20_000)
    predicted = actual * 0.9
    predicted[::400] = 40.0  # the 50 worst errors: always drawn, whatever the sample

    plots.predicted_vs_actual_png(actual, predicted, tmp_path / "big.png", "y")
    plots.residuals_png(actual[:300], predicted[:300], tmp_path / "small.png", "y")

    big, small = (figure.axes[0] for figure in drawn)
    drawn_points = big.collections[0].get_offsets()
    assert len(drawn_points) == plots.SCATTER_POINTS and (drawn_points[:, 1] == 40.0).sum() == 50
    assert big.get_title() == f"Holdout: predicted vs actual ({plots.SCATTER_POINTS:,} of 20,000 rows)"
    assert len(small.collections[0].get_offsets()) == 300 and small.get_title() == "Holdout residuals"
