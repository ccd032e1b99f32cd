"""The dashboard and the report in a real browser: Debian's headless Chromium driven by selenium
loads the pages over a realistic state (two models, dates scored with drift, a failed date,
labels with a degraded date, events), checks what a person would look for, that the console
has no errors, and saves screenshots under test-artifacts/."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.services import free_port
from tests.integration.test_closed_loop import iris_batch

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DAYS = [f"2026-11-{day:02d}" for day in range(10, 18)]


def chromium_or_skip() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("Debian's chromium and chromium-driver are not installed here (make test-tools installs them)")
    return browser, driver


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1800", "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def state_template(trained_template, tmp_path_factory) -> Path:
    """Eight dates of iris-model (drift from the sixth on, labels for most, half wrong at the end,
    one date whose input was missing) and a second model scored once: built once for the module,
    cloned into each test's state directory."""
    from typer.testing import CliRunner

    from mlplatform.cli import app
    from tests.conftest import isolate
    from tests.support.state import clone_state

    folder = tmp_path_factory.mktemp("dashboard")
    home = folder / "state"
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, home)
        clone_state(trained_template, home)
        build_state(cli, folder)
    return home


def build_state(cli, tmp_path: Path) -> None:
    for index, day in enumerate(DAYS):
        batch = iris_batch(index, 90)
        features = batch.drop(columns="species")
        if index >= 5:
            features["petal_length"] *= 1.7
        features.to_csv(tmp_path / f"{day}.csv", index=False)
        if index == 3:
            assert cli("score", "--input", str(tmp_path / "missing.csv"), "--date", day).exit_code == 2
            continue
        assert cli("score", "--input", str(tmp_path / f"{day}.csv"), "--id-column", "id", "--date", day).exit_code == 0
        labels = batch[["id", "species"]]
        if index >= 6:
            labels.loc[: len(labels) // 2, "species"] = "setosa"
        labels.to_csv(tmp_path / f"labels-{day}.csv", index=False)
        added = cli("labels", "add", "-i", str(tmp_path / f"labels-{day}.csv"), "--id-column", "id", "--date", day)
        assert added.exit_code == 0, added.output
    assert cli("train", "--model-name", "churn-model", "-p", "n_estimators=5").exit_code == 0
    assert cli("score", "--model-name", "churn-model", "--rows", "50", "--date", DAYS[-1]).exit_code == 0
    assert cli("quality").exit_code == 0


@pytest.fixture
def state(state_template, isolated_env) -> None:
    from tests.support.state import clone_state

    clone_state(state_template, isolated_env)


@contextlib.contextmanager
def serving(token: str | None = None) -> Iterator[str]:
    """The dashboard app of the test's state, served by uvicorn on a loopback port."""
    import uvicorn

    from mlplatform.flows.setup import load_settings
    from mlplatform.web.server import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(load_settings(), token), "127.0.0.1", port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def dashboard(state) -> Iterator[str]:
    with serving() as url:
        yield url


def console_errors(chrome) -> list[str]:
    return [entry["message"] for entry in chrome.get_log("browser") if entry["level"] == "SEVERE"]


def wait_for_charts(chrome, count: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(chrome, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= count
    )


def screenshot(chrome, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    chrome.save_screenshot(str(path))
    return path


def test_the_overview_lists_every_model_with_its_state(browser, dashboard):
    from selenium.webdriver.common.by import By

    browser.get(dashboard + "/")
    rows = {
        row.find_element(By.TAG_NAME, "a").text: row.text
        for row in browser.find_elements(By.CSS_SELECTOR, "#models tbody tr")
    }
    assert set(rows) == {"iris-model", "churn-model"}
    assert f"{DAYS[-1]} committed" in rows["iris-model"]
    assert (
        "drifted: " in rows["iris-model"] and "petal_length" in rows["iris-model"] and "degraded" in rows["iris-model"]
    )
    assert "inference " in rows["iris-model"]  # the next scheduled runs
    assert f"{DAYS[-1]} committed" in rows["churn-model"]  # its outputs live under churn/, found all the same
    assert console_errors(browser) == []
    assert screenshot(browser, "dashboard-overview.png").stat().st_size > 10_000


def test_a_model_page_shows_dates_drift_quality_versions_and_events(browser, dashboard):
    from selenium.webdriver.common.by import By

    browser.get(dashboard + "/")
    browser.find_element(By.LINK_TEXT, "iris-model").click()
    wait_for_charts(browser, 6)
    assert browser.find_element(By.ID, "model-name").text == "iris-model"
    calendar = browser.execute_script("return document.getElementById('chart-calendar').data[0].text")
    statuses = {text.split(":")[0]: text.split(":")[1].split(",")[0].split(" (")[0].strip() for text in calendar}
    assert statuses[DAYS[0]] == "committed" and statuses[DAYS[3]] == "failed"
    heatmap = browser.execute_script("return document.getElementById('chart-drift').data[0]")
    assert "petal_length" in heatmap["y"] and DAYS[-1] in heatmap["x"]
    quality = browser.execute_script("return document.getElementById('chart-quality').data.map(t => t.name)")
    assert {"champion", "reference", "label-free estimate", "label coverage"} <= set(quality)
    events = browser.find_element(By.ID, "events").text
    assert "scoring_failed" in events and "quality_degraded" in events and "labels_added" in events
    distribution = browser.execute_script("return document.getElementById('chart-distribution').layout.title.text")
    assert distribution.startswith("petal_length on ")  # the most drifted feature of the last date, shown first
    assert console_errors(browser) == []
    screenshot(browser, "dashboard-model.png")


def test_the_report_is_one_file_that_makes_no_request(browser, cli, state, tmp_path):
    out = tmp_path / "report.html"
    result = cli("report", "--out", str(out))
    assert result.exit_code == 0 and out.exists()
    browser.get(out.as_uri())
    wait_for_charts(browser, 6)
    requests = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)")
    assert requests == []  # Plotly and every chart's data are inside the file
    assert "iris-model" in browser.title
    assert console_errors(browser) == []
    screenshot(browser, "report.png")


def test_off_loopback_the_dashboard_needs_a_token(cli, isolated_env):
    refused = cli("dashboard", "--host", "0.0.0.0")
    assert refused.exit_code == 2
    assert "pass --token" in refused.output

    import requests

    with serving(token="s3cret-token") as url, requests.Session() as session:
        assert session.get(url + "/").status_code == 401
        assert session.get(url + "/?token=wrong").status_code == 401
        assert session.get(url + "/?token=s3cret-token").status_code == 200
        assert session.get(url + "/").status_code == 200  # the cookie it set
        unknown = session.get(url + "/model/nobody-model")
        assert unknown.status_code == 404 and "no model 'nobody-model' registered or scored" in unknown.text


def test_a_report_of_a_model_nobody_trained_or_scored_is_one_line(cli, isolated_env, tmp_path):
    out = tmp_path / "report.html"
    result = cli("report", "--model-name", "nobody-model", "--out", str(out))
    assert result.exit_code == 2
    assert "no model 'nobody-model' registered or scored (models: none)" in result.output
    assert not out.exists()


def test_events_say_when_there_are_none(cli, isolated_env):
    result = cli("events")
    assert result.exit_code == 0 and "No events yet" in result.output
