"""The shape of the code, checked like its behaviour: a module does one job (ruff checks the size
of functions; import-linter the layers and cycles)."""

from __future__ import annotations

from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "mlplatform"
MAX_MODULE_LINES = 400


def test_no_module_is_longer_than_one_job_needs():
    long = {
        str(path.relative_to(SOURCE)): lines
        for path in SOURCE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these by stage or responsibility: {long}"
