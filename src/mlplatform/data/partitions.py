"""Inputs partitioned by date: a root holding `date=YYYY-MM-DD/` folders means the folder of the
date being scored, and a partitioned root without it has no input for that date yet — never
"every date at once"."""

from __future__ import annotations

from mlplatform.clients import Clients
from mlplatform.errors import InputNotReadyError
from mlplatform.layout import partition


def partition_for(uri: str, logical_date: str, clients: Clients) -> str:
    """The input to read for `logical_date`: `uri` itself (a file, or a folder without date
    partitions), or its `date=<logical_date>/` partition. InputNotReadyError (exit 75: try again
    later) when `uri` is partitioned by date but that date's partition is not there."""
    from pyarrow import fs as pafs

    filesystem, path = clients.filesystem_for(uri)
    try:
        if filesystem.get_file_info(path).type != pafs.FileType.Directory:
            return uri
        children = filesystem.get_file_info(pafs.FileSelector(path))
    except OSError:
        return uri  # unreadable: the reader says why, with the file's name
    dated = sorted(
        c.base_name for c in children if c.type == pafs.FileType.Directory and c.base_name.startswith("date=")
    )
    if not dated:
        return uri
    if f"date={logical_date}" in dated:
        return partition(uri, logical_date)
    raise InputNotReadyError(
        f"input {uri} is partitioned by date but has no {partition('', logical_date).lstrip('/')}/ partition "
        f"(its dates run from {dated[0][5:]} to {dated[-1][5:]})",
        "score a date that has input, or wait until the date's partition is written (exit 75: try again later)",
    )
