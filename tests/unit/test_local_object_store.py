"""The local object store's uploads: written a piece at a time, whole when they appear."""

from __future__ import annotations

import os
from pathlib import Path

from shadowserve.objectstore import UPLOAD_PIECE_BYTES, LocalObjectStore, S3Location


def test_an_upload_of_several_pieces_arrives_whole_and_replaces_the_object(
    tmp_path: Path,
) -> None:
    store = LocalObjectStore(tmp_path)
    location = S3Location("capture", "prefix/ep/v/2026/01/01/00/file.jsonl")
    body = bytearray(os.urandom(2 * UPLOAD_PIECE_BYTES + 12345))  # as capture hands it over
    store.upload(location, body)
    path = store.path_of(location)
    assert path.read_bytes() == body
    store.upload(location, b"smaller")  # an object written again is the new body only
    assert path.read_bytes() == b"smaller"
    assert [p.name for p in path.parent.iterdir()] == ["file.jsonl"]  # no .partial left
