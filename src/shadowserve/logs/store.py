"""Log groups and streams on disk, as CloudWatch Logs presents them.

One directory per stream (``<root>/<account>/<region>/<group>/<stream>/``, names quoted),
holding JSON lines ``{"n": number, "t": timestamp ms, "i": ingestion ms, "m": message}``.
Each stream rotates: past ``max_file_bytes`` the file becomes ``events.1.jsonl`` (older ones
shift up, the oldest beyond ``keep_files`` is deleted), so a stream never holds more than
about ``(keep_files + 1) * max_file_bytes``. Every event is written and flushed as it comes,
so nothing accepted is lost when the writer (a worker's pump) or its process dies.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, unquote

from shadowserve.domain.arns import Scope

CURRENT = "events.jsonl"
MAX_MESSAGE_BYTES = 256 * 1024  # CloudWatch's limit for one event


@dataclass(frozen=True)
class LogLimits:
    max_file_bytes: int = 4 * 1024 * 1024
    keep_files: int = 2
    # All streams together: past this, the streams written longest ago (of instances no
    # longer running) are deleted whole when a new stream starts.
    max_total_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class LogEvent:
    number: int  # 1, 2, … within its stream, never reused (tokens point at them)
    timestamp: int  # ms since the epoch
    ingestion_time: int
    message: str


@dataclass(frozen=True)
class StreamInfo:
    name: str
    creation_time: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    stored_bytes: int


class LineWriter(Protocol):
    """Where a process's output lines go: a log stream, or a buffer a remote reader drains."""

    def write(self, message: str, timestamp: int | None = None) -> None: ...


class StreamWriter:
    """Appends to one stream; safe to share between threads."""

    def __init__(self, directory: Path, limits: LogLimits) -> None:
        self._directory = directory
        self._limits = limits
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        meta = directory / "created"
        if not meta.exists():
            meta.write_text(str(_now_ms()))
        last = _last_event(directory / CURRENT)
        self._number = last.number if last else _numbered_before(directory, limits)
        self._file: IO[str] = (directory / CURRENT).open("a", encoding="utf-8")

    def write(self, message: str, timestamp: int | None = None) -> None:
        now = _now_ms()
        text = message[:MAX_MESSAGE_BYTES]
        with self._lock:
            self._number += 1
            line = json.dumps(
                {"n": self._number, "t": timestamp or now, "i": now, "m": text},
                ensure_ascii=False,
            )
            if self._file.tell() + len(line) > self._limits.max_file_bytes:
                self._rotate()
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _rotate(self) -> None:
        self._file.close()
        oldest = self._directory / f"events.{self._limits.keep_files}.jsonl"
        oldest.unlink(missing_ok=True)
        for index in range(self._limits.keep_files - 1, 0, -1):
            older = self._directory / f"events.{index}.jsonl"
            if older.exists():
                older.replace(self._directory / f"events.{index + 1}.jsonl")
        if self._limits.keep_files > 0:
            (self._directory / CURRENT).replace(self._directory / "events.1.jsonl")
        else:
            (self._directory / CURRENT).unlink(missing_ok=True)
        self._file = (self._directory / CURRENT).open("a", encoding="utf-8")


class LogStore:
    def __init__(self, root: Path, limits: LogLimits | None = None) -> None:
        self._root = root
        self.limits = limits or LogLimits()
        self._writers: dict[Path, StreamWriter] = {}
        self._lock = threading.Lock()

    def writer(self, scope: Scope, group: str, stream: str) -> StreamWriter:
        """The one writer of a stream (created, with its group, on first use)."""
        directory = self._group_dir(scope, group) / _name(stream)
        with self._lock:
            found = self._writers.get(directory)
            if found is None:
                self.create_group(scope, group)
                self._prune()
                found = self._writers[directory] = StreamWriter(directory, self.limits)
            return found

    def release(self, writer: StreamWriter) -> None:
        """The stream's instance is gone: close its file; its events stay readable."""
        with self._lock:
            for directory, open_writer in list(self._writers.items()):
                if open_writer is writer:
                    del self._writers[directory]
        writer.close()

    def _prune(self) -> None:
        streams = [path.parent for path in self._root.glob("*/*/*/*/" + CURRENT)]
        sizes = {d: sum(f.stat().st_size for f in d.glob("events*.jsonl")) for d in streams}
        total = sum(sizes.values())
        closed = [d for d in streams if d not in self._writers]
        for directory in sorted(closed, key=lambda d: (d / CURRENT).stat().st_mtime):
            if total <= self.limits.max_total_bytes:
                return
            total -= sizes[directory]
            for path in directory.iterdir():
                path.unlink(missing_ok=True)
            directory.rmdir()

    def create_group(self, scope: Scope, group: str) -> None:
        directory = self._group_dir(scope, group)
        directory.mkdir(parents=True, exist_ok=True)
        meta = directory / ".created"
        if not meta.exists():
            meta.write_text(str(_now_ms()))

    def groups(self, scope: Scope) -> list[tuple[str, int, int]]:
        """(name, creation time, stored bytes) of every group, by name."""
        base = self._root / scope.account / scope.region
        if not base.is_dir():
            return []
        found = []
        for directory in base.iterdir():
            if (directory / ".created").exists():
                size = sum(f.stat().st_size for f in directory.glob("*/events*.jsonl"))
                found.append((unquote(directory.name), _created(directory / ".created"), size))
        return sorted(found)

    def has_group(self, scope: Scope, group: str) -> bool:
        return (self._group_dir(scope, group) / ".created").exists()

    def stream_names(self, scope: Scope, group: str) -> list[str]:
        """The group's streams by name, without reading them."""
        return [unquote(d.name) for d in self._stream_dirs(scope, group)]

    def streams(self, scope: Scope, group: str) -> list[StreamInfo]:
        found = []
        for directory in self._stream_dirs(scope, group):
            files = _files(directory, self.limits)
            first = next((e for f in files for e in _read(f)), None)
            last = _last_event(files[-1]) if files else None
            found.append(StreamInfo(
                name=unquote(directory.name),
                creation_time=_created(directory / "created"),
                first_event=first.timestamp if first else None,
                last_event=last.timestamp if last else None,
                last_ingestion=last.ingestion_time if last else None,
                stored_bytes=sum(f.stat().st_size for f in files),
            ))  # fmt: skip
        return found

    def events(self, scope: Scope, group: str, stream: str) -> Iterator[LogEvent]:
        """A stream's events, oldest first (what rotation kept)."""
        directory = self._group_dir(scope, group) / _name(stream)
        for path in _files(directory, self.limits):
            yield from _read(path)

    def _stream_dirs(self, scope: Scope, group: str) -> list[Path]:
        return sorted(d for d in self._group_dir(scope, group).iterdir() if d.is_dir())

    def _group_dir(self, scope: Scope, group: str) -> Path:
        return self._root / scope.account / scope.region / _name(group)


def _name(text: str) -> str:
    return quote(text, safe="")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _created(path: Path) -> int:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return 0


def _files(directory: Path, limits: LogLimits) -> list[Path]:
    """Oldest first."""
    names = [f"events.{i}.jsonl" for i in range(limits.keep_files, 0, -1)] + [CURRENT]
    return [directory / name for name in names if (directory / name).exists()]


def _read(path: Path) -> Iterator[LogEvent]:
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                event = _parse(line)
                if event is not None:
                    yield event
    except FileNotFoundError:  # rotated away while being read
        return


def _parse(line: str) -> LogEvent | None:
    try:
        body: dict[str, Any] = json.loads(line)
        return LogEvent(int(body["n"]), int(body["t"]), int(body["i"]), str(body["m"]))
    except (ValueError, KeyError, TypeError):
        return None  # a line cut short by a crash of the server mid-write


def _last_event(path: Path) -> LogEvent | None:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - MAX_MESSAGE_BYTES * 2))
            tail = handle.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return None
    return next((e for e in map(_parse, reversed(tail)) if e is not None), None)


def _numbered_before(directory: Path, limits: LogLimits) -> int:
    """The last event number in the rotated files (the current one is empty)."""
    rotated = [path for path in _files(directory, limits) if path.name != CURRENT]
    for path in reversed(rotated):
        last = _last_event(path)
        if last is not None:
            return last.number
    return 0
