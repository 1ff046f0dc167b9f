"""Fetch a model's ``model.tar.gz`` and unpack it safely into a directory of its own."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shadowserve.objectstore import ObjectStore, ObjectStoreError, S3Location

DEFAULT_MAX_BYTES = 20 * 1024**3  # unpacked; refuses decompression bombs
MAX_MEMBERS = 100_000


class ArtifactError(Exception):
    """The model data could not be fetched or unpacked; the message is the FailureReason."""


class ArtifactCache:
    """Unpacked models under ``<root>/<hash of url>``, fetched once per URL."""

    def __init__(self, root: Path, store: ObjectStore, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.store = store
        self.max_bytes = max_bytes

    def model_dir(self, url: str | None) -> Path:
        """The directory holding the unpacked model; an empty one when there is no data."""
        digest = hashlib.sha256((url or "").encode()).hexdigest()[:16]
        fetch = (lambda archive: self._fetch(url, archive)) if url else None
        return unpacked(self._ensure_root(), digest, fetch, self.max_bytes)

    def archive_bytes(self, url: str) -> bytes:
        """The archive itself, not unpacked (for a node that unpacks it where it runs)."""
        with tempfile.TemporaryDirectory(dir=self._ensure_root()) as staging:
            archive = Path(staging) / "model.tar.gz"
            self._fetch(url, archive)
            return archive.read_bytes()

    def _ensure_root(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def _fetch(self, url: str, archive: Path) -> None:
        try:
            if url.startswith("s3://"):
                self.store.download(S3Location.parse(url), archive)
            elif url.startswith(("https://", "http://")):
                _download(url, archive)
            else:
                raise ArtifactError(f"ModelDataUrl {url} must be an s3:// or https:// URL.")
        except ObjectStoreError as exc:
            raise ArtifactError(str(exc)) from exc


def unpacked(root: Path, digest: str, fetch: Callable[[Path], None] | None, max_bytes: int) -> Path:
    """``<root>/<digest>``, unpacked from the archive ``fetch`` writes (empty without one),
    once: processes sharing ``root`` (instances on one node) wait for the first to finish."""
    target = root / digest
    if (target / ".complete").exists():
        return target
    with exclusive(root / f"{digest}.lock"):
        if (target / ".complete").exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=root))
        try:
            if fetch is not None:
                archive = staging / "model.tar.gz"
                fetch(archive)
                _unpack(archive, staging / "model", max_bytes)
                archive.unlink()
            else:
                (staging / "model").mkdir()
            (staging / "model" / ".complete").touch()
            shutil.rmtree(target, ignore_errors=True)
            (staging / "model").rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Held by one process (or thread) at a time: an advisory lock on ``lock_file``."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(url: str, archive: Path) -> None:
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            response.raise_for_status()
            with archive.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise ArtifactError(f"Could not download {url}: {exc}") from exc


def _check_member(member: tarfile.TarInfo) -> None:
    """Absolute names and ".." are refused outright (the data filter would only rewrite
    an absolute name; an archive that tries either is not to be trusted)."""
    if member.name.startswith("/") or ".." in Path(member.name).parts:
        raise tarfile.FilterError(f"{member.name!r} would be written outside the model folder")


def _unpack(archive: Path, target: Path, max_bytes: int) -> None:
    target.mkdir()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member)
            declared = sum(member.size for member in members)
            if declared > max_bytes or len(members) > MAX_MEMBERS:
                raise ArtifactError(
                    f"The model archive unpacks to {declared} bytes in {len(members)} files, "
                    f"more than the {max_bytes} bytes / {MAX_MEMBERS} files allowed "
                    "(--max-model-bytes)."
                )
            # The "data" filter refuses absolute paths, "..", links leaving the
            # directory and device files: an archive cannot write outside its folder.
            tar.extractall(target, filter="data")
    except tarfile.FilterError as exc:
        raise ArtifactError(f"The model archive is unsafe and was rejected: {exc}") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArtifactError(f"Could not unpack the model archive: {exc}") from exc
