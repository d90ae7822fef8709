"""Where a run keeps its data: a local folder (local.py) or an S3 prefix (s3.py), behind one
interface (base.py); atomic.py is the one way a local file is written whole or not at all.

``open_store`` is the one place a location string becomes a store: callers pass stores on,
never paths or URLs, so the endpoint and region given with a location cannot be lost.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.storage.base import LEASE_SECONDS, LOCK_NAME, DataStore, Folder, sha256_of
from pipeline.storage.local import LocalData
from pipeline.storage.s3 import S3Data, is_object_location, split_data_url

__all__ = [
    "LEASE_SECONDS", "LOCK_NAME", "DataStore", "Folder", "LocalData", "S3Data",
    "is_object_location", "open_store", "sha256_of", "split_data_url",
]


def open_store(location: str | Path, endpoint_url: str = "", region: str = "") -> DataStore:
    """The store of a data location: ``s3://BUCKET/PREFIX`` (at ``endpoint_url``, in
    ``region``) or a local folder."""
    if isinstance(location, str) and is_object_location(location):
        return S3Data(location, endpoint_url, region or "us-east-1")
    return LocalData(Path(location))
