"""Regenerate the README's configuration table from the Settings model (`make docs`)."""

from __future__ import annotations

import re
from pathlib import Path

from mlplatform.settings import settings_reference_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def main() -> None:
    text = README.read_text()
    table = f"{START}\n{settings_reference_markdown()}\n{END}"
    updated, count = re.subn(re.escape(START) + r".*?" + re.escape(END), table, text, flags=re.DOTALL)
    if count != 1:
        raise SystemExit(f"{README}: expected one {START} ... {END} block")
    README.write_text(updated)


if __name__ == "__main__":
    main()
