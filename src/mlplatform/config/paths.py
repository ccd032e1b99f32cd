"""Where a run may read and write: the locations people name, never one reached by `..`.

Outputs are built from the data root plus names (project, model, date, shard), and names can
hold no path syntax (settings patterns), so a name cannot lead outside the data root. The roots
themselves are whatever the user names explicitly (`../shared/data` included); a location that
names a folder and climbs back out of it (`/data/x/../../etc`) is refused, unless
`allowed_roots` is set and the resolved location lies inside one of them. With `allowed_roots`
set, every location must lie inside one, symbolic links resolved. S3 keys must be plain: no empty, `.`
or `..` segments and no backslashes (S3 keeps them literally, readers disagree about them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import PurePosixPath

# Settings whose values are locations: (dotted setting name, what it is for people).
LOCATIONS = (
    ("inference.data_root", "the data root"),
    ("inference.input", "the scoring input"),
    ("train_data", "the training data"),
    ("validation_data", "the validation data"),
)


def normalised(location: str) -> str:
    """An absolute local path or an s3:// URI without a trailing slash, `..` and symbolic links
    resolved: a link inside an allowed root that points elsewhere is not inside it."""
    if location.startswith("s3://"):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        return f"s3://{bucket}/{key}".rstrip("/")
    path = location.removeprefix("file://")
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def location_problem(location: str, roots: Sequence[str]) -> str | None:
    """Why `location` may not be used (None: it may)."""
    if location.startswith("s3://"):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        segments = key.rstrip("/").split("/") if key.rstrip("/") else []
        if not bucket or "\\" in location or any(part in ("", ".", "..") for part in segments):
            return "is not a plain S3 location (an empty, '.' or '..' key segment, or a backslash)"
    elif _climbs_back(location.removeprefix("file://")) and not roots:
        return "climbs back out of a folder it named with '..'"
    if roots and not any(_inside(normalised(location), normalised(root)) for root in roots):
        return f"is outside the allowed roots ({', '.join(roots)})"
    return None


def _climbs_back(path: str) -> bool:
    """`a/../b`, `/data/x/../../etc`: a `..` after a folder name. A leading `../` (up from the
    working directory, as people type it) is a location named on purpose."""
    parts = PurePosixPath(path).parts
    named = next((index for index, part in enumerate(parts) if part != ".."), len(parts))
    return ".." in parts[named:]


def _inside(location: str, root: str) -> bool:
    return location == root or location.startswith(root.rstrip("/") + "/")
