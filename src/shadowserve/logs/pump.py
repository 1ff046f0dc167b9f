"""Copies what a process writes to stdout and stderr into its log stream, line by line and
timestamped as it arrives. Reading the pipe to its end means nothing the process wrote is
lost when it crashes: the kernel keeps the pipe's contents until they are read."""

from __future__ import annotations

import threading
from typing import IO

from shadowserve.logs.store import MAX_MESSAGE_BYTES, LineWriter


def pump(pipe: IO[bytes], writer: LineWriter, name: str) -> threading.Thread:
    def run() -> None:
        with pipe:
            for line in iter(lambda: pipe.readline(MAX_MESSAGE_BYTES), b""):
                writer.write(line.decode("utf-8", "replace").rstrip("\r\n"))

    thread = threading.Thread(target=run, name=f"log-pump {name}", daemon=True)
    thread.start()
    return thread
