"""How many rows an input holds, known or estimated, without reading it.

Decisions taken before scoring (compile the forest or not) need the row count. Parquet files
carry it in their footers (`FeatureStream.total_rows`); a CSV would need a full read, so its
rows are estimated from the files' sizes and the mean line length of two samples, at the
start and at the end of the first file. Rough is enough: the decision it feeds leans toward the cheap side.
"""

from __future__ import annotations

import logging

from mlplatform.clients import Clients

log = logging.getLogger(__name__)
SAMPLE_BYTES = 64 * 1024


def expected_rows(total_rows: int | None, uri: str | None, files: tuple[str, ...], clients: Clients) -> int | None:
    """`total_rows` when known, else an estimate for CSV files, else None (cannot tell)."""
    if total_rows is not None:
        return total_rows
    if not uri or not files:
        return None
    try:
        return estimate_csv_rows(uri, files, clients)
    except OSError as exc:  # the read itself will report a real problem; here we just cannot tell
        log.debug("could not estimate the rows of %s: %s", uri, exc)
        return None


def estimate_csv_rows(uri: str, files: tuple[str, ...], clients: Clients) -> int:
    """Total bytes of the files divided by the mean line length of the first file's start and
    end (ids and counters grow through a file: the start alone underestimates line lengths)."""
    filesystem, _ = clients.filesystem_for(uri)
    infos = filesystem.get_file_info(list(files))
    total = sum(max(info.size or 0, 0) for info in infos)
    first_size = max(infos[0].size or 0, 0)
    with filesystem.open_input_file(files[0]) as handle:
        sample = handle.read(SAMPLE_BYTES)
        if first_size > 2 * SAMPLE_BYTES:
            handle.seek(first_size - SAMPLE_BYTES)
            tail = handle.read(SAMPLE_BYTES).split(b"\n", 1)[-1]  # from the first whole line
            sample = sample[: sample.rfind(b"\n") + 1] + tail
    return rows_from_sample(sample, total, len(files))


def rows_from_sample(sample: bytes, total_bytes: int, files: int) -> int:
    """Data rows in `total_bytes` of CSV whose first bytes are `sample` (a header per file)."""
    lines = sample.split(b"\n")
    complete = [line for line in (lines[:-1] if len(sample) == SAMPLE_BYTES else lines) if line]
    if len(complete) <= 1:
        return max(total_bytes // max(len(sample), 1), 1) if total_bytes else 0
    header, rows = complete[0], complete[1:]
    per_row = sum(len(line) + 1 for line in rows) / len(rows)
    return max(round((total_bytes - files * (len(header) + 1)) / per_row), 0)
