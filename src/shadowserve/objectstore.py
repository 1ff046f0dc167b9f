"""Objects addressed by ``s3://bucket/key``: in any S3-compatible store, or in a local
directory when no S3 endpoint is configured (the embedded default).

Local layout: ``<data-dir>/objects/<bucket>/<key>`` — put a file there and it is
``s3://<bucket>/<key>`` to shadowserve.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


class ObjectStoreError(Exception):
    """The store could not be reached or did not have the object; the message says which."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ObjectStoreError(f"{uri} is not an s3://bucket/key URI.")
        return cls(parsed.netloc, parsed.path.lstrip("/"))


@dataclass(frozen=True)
class StoredObject:
    location: S3Location
    size: int

    @property
    def uri(self) -> str:
        return f"s3://{self.location.bucket}/{self.location.key}"


class ObjectStore(Protocol):
    def download(self, location: S3Location, target: Path) -> None: ...

    def list(self, prefix: S3Location) -> list[StoredObject]:
        """Objects whose key starts with ``prefix.key``, in key order."""
        ...

    def lines(self, location: S3Location) -> Iterator[bytes]:
        """An object's lines, streamed (never the whole object in memory)."""
        ...

    def upload(
        self, location: S3Location, body: bytes | bytearray, extra: dict[str, str] | None = None
    ) -> None: ...


# Local uploads are written a piece at a time with a pause between pieces. One write of a
# 16 MB capture file kept the kernel copying on the gateway's core for milliseconds, and on
# a pinned gateway production p99 of 1 MB captured requests read x1.40-x1.82 of uncaptured
# ones; paced, x0.94-x1.21 (four runs; #16, docs/benchmarks.md). A 16 MB file takes 15 ms
# longer.
UPLOAD_PIECE_BYTES = 1024 * 1024
UPLOAD_PAUSE_SECONDS = 0.001


class LocalObjectStore:
    """Objects as files. ``extra`` (server-side encryption headers) has no meaning here."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, location: S3Location) -> Path:
        path = (self.root / location.bucket / location.key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ObjectStoreError(f"s3://{location.bucket}/{location.key} leaves the store.")
        return path

    def download(self, location: S3Location, target: Path) -> None:
        source = self.path_of(location)
        if not source.is_file():
            raise ObjectStoreError(
                f"s3://{location.bucket}/{location.key} does not exist in the local object "
                f"store (looked for {source})."
            )
        shutil.copyfile(source, target)

    def list(self, prefix: S3Location) -> list[StoredObject]:
        bucket = self.root / prefix.bucket
        if not bucket.is_dir():
            return []
        found = []
        for path in bucket.rglob("*"):
            key = path.relative_to(bucket).as_posix()
            if path.is_file() and key.startswith(prefix.key) and not key.endswith(".partial"):
                found.append(StoredObject(S3Location(prefix.bucket, key), path.stat().st_size))
        return sorted(found, key=lambda item: item.location.key)

    def lines(self, location: S3Location) -> Iterator[bytes]:
        try:
            with self.path_of(location).open("rb") as file:
                yield from file
        except OSError as exc:
            raise ObjectStoreError(
                f"Could not read s3://{location.bucket}/{location.key}: {exc}"
            ) from exc

    def upload(
        self,
        location: S3Location,
        body: bytes | bytearray,
        extra: dict[str, str] | None = None,  # noqa: ARG002 - part of the ObjectStore protocol
    ) -> None:
        path = self.path_of(location)
        partial = path.with_name(path.name + ".partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            view = memoryview(body)
            with partial.open("wb") as out:
                for start in range(0, len(view), UPLOAD_PIECE_BYTES):
                    if start:
                        time.sleep(UPLOAD_PAUSE_SECONDS)
                    out.write(view[start : start + UPLOAD_PIECE_BYTES])
            partial.replace(path)
        except OSError as exc:  # a full disk is a sink failure like S3 being down
            partial.unlink(missing_ok=True)
            raise ObjectStoreError(
                f"Could not write s3://{location.bucket}/{location.key} to {path}: {exc}"
            ) from exc


class S3ObjectStore:
    def __init__(self, endpoint_url: str, region: str = "us-east-1") -> None:
        self.endpoint_url = endpoint_url
        # The endpoint is always passed explicitly: AWS_ENDPOINT_URL may point at
        # shadowserve itself, and S3 must never resolve to it.
        # Few, short retries: callers (capture) keep and retry what failed themselves.
        config = Config(connect_timeout=3, read_timeout=60, retries={"total_max_attempts": 2})
        self._client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )

    def download(self, location: S3Location, target: Path) -> None:
        try:
            self._client.download_file(location.bucket, location.key, str(target))
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"Could not download s3://{location.bucket}/{location.key} from "
                f"{self.endpoint_url}: {exc}"
            ) from exc

    def list(self, prefix: S3Location) -> list[StoredObject]:
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=prefix.bucket, Prefix=prefix.key
            )
            return [
                StoredObject(S3Location(prefix.bucket, item["Key"]), int(item["Size"]))
                for page in pages for item in page.get("Contents", [])
            ]  # fmt: skip
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"Could not list s3://{prefix.bucket}/{prefix.key} at {self.endpoint_url}: {exc}"
            ) from exc

    def lines(self, location: S3Location) -> Iterator[bytes]:
        try:
            body = self._client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
            yield from body.iter_lines(keepends=True)
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"Could not read s3://{location.bucket}/{location.key} from "
                f"{self.endpoint_url}: {exc}"
            ) from exc

    def upload(
        self, location: S3Location, body: bytes | bytearray, extra: dict[str, str] | None = None
    ) -> None:
        try:
            self._client.put_object(
                Bucket=location.bucket, Key=location.key, Body=body, **(extra or {})
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"Could not upload s3://{location.bucket}/{location.key} to "
                f"{self.endpoint_url}: {exc}"
            ) from exc


def object_store(s3_endpoint_url: str | None, data_dir: Path) -> ObjectStore:
    if s3_endpoint_url:
        return S3ObjectStore(s3_endpoint_url)
    return LocalObjectStore(data_dir / "objects")
