"""Helpers for data-plane tests: model archives, an S3 server, worker processes, events."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from shadowserve.cli.server_process import free_port, wait_for_port


def model_archive(inference_py: str, extra_files: dict[str, str] | None = None) -> bytes:
    """A SageMaker model.tar.gz: code/inference.py plus any other files."""
    files = {"code/inference.py": inference_py, **(extra_files or {})}
    files = {name: textwrap.dedent(text) for name, text in files.items()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# A model that multiplies numbers by SCALE, optionally sleeping SLEEP seconds per call.
SCALING_MODEL = """
    import os, time

    def model_fn(model_dir):
        return float(os.environ.get("SCALE", "2"))

    def predict_fn(data, scale):
        delay = float(os.environ.get("SLEEP", "0"))
        if delay:
            time.sleep(delay)
        if os.environ.get("FAIL"):
            raise RuntimeError("shadow model exploded")
        return [x * scale for x in data]
"""


class MotoServer:
    """moto's S3 in server mode on a loopback port; can be stopped and started again there
    (its state is in memory: a restart comes back empty)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        executable = str(Path(sys.executable).with_name("moto_server"))
        self._process = subprocess.Popen(
            [executable, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 30)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 in server mode on a free loopback port."""
    server = MotoServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def worker_pids(data_dir: Path, fragment: str = "") -> list[int]:
    """Built-in worker processes started for a server whose data dir is ``data_dir``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ours = "shadowserve.workers.python_worker" in command and str(data_dir) in command
        if ours and fragment in command:
            pids.append(int(entry.name))
    return pids


def wait_until(condition: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def metric(url: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample from GET /metrics (0 when absent)."""
    with urllib.request.urlopen(f"{url}/metrics") as response:
        text = response.read().decode()
    for line in text.splitlines():
        if not labels and line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
        if not line.startswith(name + "{"):
            continue
        label_text, value = line[len(name) + 1 :].rsplit("} ", 1)
        found = dict(part.split("=", 1) for part in label_text.split(","))
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(value)
    return 0.0


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


class ContainerHandler(BaseHTTPRequestHandler):
    """A container speaking SageMaker's contract that answers what the request asks for."""

    def do_GET(self) -> None:
        self._send(200, b"", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        request = json.loads(body or b"{}")
        status = request.get("status", 200)
        extra = {}
        if "x-amzn-sagemaker-custom-attributes" in self.headers:
            extra["X-Amzn-SageMaker-Custom-Attributes"] = (
                "echo:" + self.headers["x-amzn-sagemaker-custom-attributes"]
            )
        answer = json.dumps({"accept": self.headers.get("accept"), "got": request}).encode()
        if status != 200:
            answer = request.get("message", "nope").encode()
        self._send(status, answer, "application/json", extra)

    def _send(self, status: int, body: bytes, content_type: str, extra: Any = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass
