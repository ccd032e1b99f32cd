"""Dashboard page load at scale: 5 models x 365 committed dates, each with drift, class mix and
realized quality, loaded in Debian's headless Chromium. Every model is trained, scored and
labelled for real once (the CLI); that date is then copied to the 364 dates before it with its
numbers varied, as a year of daily runs would leave them. Time is the browser's own: navigation
start to the last chart drawn. The server is `mlplatform dashboard`, a separate process.

    python -m benchmarks.dashboard_bench                     # 5 models x 365 dates, 5 loads a page
    python -m benchmarks.dashboard_bench --models 2 --dates 30 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))
NAMES = ["churn-model", "fraud-model", "iris-model", "price-model", "demand-model"]
LAST = date(2026, 11, 30)


def run(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([MLPLATFORM, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mlplatform {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def build(home: Path, env: dict[str, str], models: int, dates: int) -> None:
    """Train, score and label each model once for real, then copy that date back a year."""
    import numpy as np
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[frame.pop("target")]
    frame.insert(0, "id", range(len(frame)))
    frame.drop(columns="species").to_csv(home / "input.csv", index=False)
    frame[["id", "species"]].to_csv(home / "labels.csv", index=False)
    for name in NAMES[:models]:
        started = time.perf_counter()
        run(env, "train", "--model-name", name, "-p", "n_estimators=20")
        day = LAST.isoformat()
        run(env, "score", "--model-name", name, "--input", str(home / "input.csv"), "--id-column", "id", "--date", day)
        labels = ["labels", "add", "--model-name", name, "-i", str(home / "labels.csv"), "--id-column", "id"]
        run(env, *labels, "--date", day)
        copy_back(home / "data", name, dates)
        print(f"  {name}: trained, scored, labelled, {dates} dates ({time.perf_counter() - started:.0f} s)")


def copy_back(data_root: Path, name: str, dates: int) -> None:
    import numpy as np

    project = name.removesuffix("-model")
    folder = data_root / project / "inference-output" / f"model={name}"
    quality = data_root / project / "monitoring" / f"model={name}" / "quality"
    source = folder / f"date={LAST.isoformat()}"
    manifest = json.loads((source / "_SUCCESS").read_text())
    measured = {path: json.loads(path.read_text()) for path in quality.glob("*.json")}
    rng = np.random.default_rng(len(name))
    for back in range(1, dates):
        day = (LAST - timedelta(days=back)).isoformat()
        target = folder / f"date={day}"
        shutil.copytree(source, target, dirs_exist_ok=True)
        varied = json.loads(json.dumps(manifest))
        varied["run_date"] = day
        for stats in varied.get("monitoring", {}).get("drift", {}).get("features", {}).values():
            stats["psi"] = float(rng.gamma(1.0, 0.05))
        counts = varied.get("monitoring", {}).get("class_counts", {})
        for label in counts:
            counts[label] = int(counts[label] * rng.uniform(0.7, 1.3))
        (target / "_SUCCESS").write_text(json.dumps(varied))
        for path, result in measured.items():
            copy = dict(result, date=day)
            for key in ("value", "ci_low", "ci_high", "estimate"):
                if isinstance(copy.get(key), float):
                    copy[key] = max(0.0, min(1.0, copy[key] - rng.uniform(0, 0.05)))
            (quality / path.name.replace(LAST.isoformat(), day)).write_text(json.dumps(copy))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chromium() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800",
                 "--disable-dev-shm-usage", "--disable-background-networking"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def load_seconds(browser: Any, url: str, charts: int) -> float:
    """Navigation start to the `charts`-th chart drawn, by the browser's clock."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get("about:blank")
    browser.get(url)
    WebDriverWait(browser, 120).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= charts
    )
    return browser.execute_script("return performance.now()") / 1000


def measure(env: dict[str, str], models: int, repeats: int) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [MLPLATFORM, "dashboard", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    browser = chromium()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        load_seconds(browser, url + "/", 0)  # warm: Plotly's script is cached as for any visitor
        pages = {"overview": (url + "/", 0)} | {name: (f"{url}/model/{name}", 6) for name in NAMES[:models]}
        timings = {page: [load_seconds(browser, address, charts) for _ in range(repeats)]
                   for page, (address, charts) in pages.items()}  # fmt: skip
        calendar = browser.execute_script("return document.getElementById('chart-calendar').data[0].text.length")
    finally:
        browser.quit()
        server.terminate()
        server.wait(timeout=30)
    return {"seconds": timings, "dates_on_last_page": calendar}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--dates", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as scratch:
        home = Path(scratch)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLPLATFORM_")}
        env |= {"MLPLATFORM_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
        print(f"building {args.models} models x {args.dates} dates in {home}")
        build(home, env, args.models, args.dates)
        result = measure(env, args.models, args.repeats)
    medians = {page: statistics.median(values) for page, values in result["seconds"].items()}
    for page, values in result["seconds"].items():
        print(f"  {page:14} median {medians[page]:.2f} s  (min {min(values):.2f}, max {max(values):.2f})")
    summary = {
        "models": args.models,
        "dates": args.dates,
        "repeats": args.repeats,
        "median_seconds": medians,
        "all_seconds": result["seconds"],
        "dates_on_last_page": result["dates_on_last_page"],
        "slowest_median": max(medians.values()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "dashboard_bench.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"slowest page median {summary['slowest_median']:.2f} s (target < 2 s); written to {out}")


if __name__ == "__main__":
    main()
