"""The processes a benchmark run starts (stubs, shadowserve, nginx) and what it reads of
them (CPU time, resident memory). Every process is stopped by its pid."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from shadowserve.cli.server_process import free_port, wait_for_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GENERATOR_NICENESS = -10


_PINNING = {"enabled": True}


def share_the_cores() -> None:
    """From now on this run pins nothing: every process it starts (gateway, stubs, load
    generator) is free to share the cores, as on one self-hosted box."""
    _PINNING["enabled"] = False


@contextlib.contextmanager
def generator_favoured() -> Iterator[None]:
    """While a load runs on shared cores, the generator (this thread) is favoured by the
    scheduler: it stands for clients on other machines, and a starved generator measures
    itself (its sends lag their schedule and the run is marked invalid). Processes started
    earlier keep their own priority."""
    if _PINNING["enabled"]:
        yield
        return
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, GENERATOR_NICENESS)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


def pinned(cpu: int) -> list[str]:
    """Run on one CPU when the machine has two or more (the method pins gateway apart)."""
    if _PINNING["enabled"] and (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


class Stub:
    def __init__(self, mode: str, delay_ms: float = 500.0) -> None:
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*pinned(0), sys.executable, "-m", "bench.stub", "--port", str(self.port),
             "--mode", mode, "--delay-ms", str(delay_ms)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        stop_pid(self.process)


def stop_pid(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and of its live descendants (the gateway's comparison
    worker: work moved out of the process is still the gateway's), from /proc."""
    total = 0.0
    for member in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError):  # ended meanwhile
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _descendants(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return round(int(match.group(1)) / 1024, 1) if match else 0.0


NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  client_max_body_size 8m;
  client_body_buffer_size 8m;
  upstream production {{ server 127.0.0.1:{production}; keepalive 64; }}
  upstream shadow {{ server 127.0.0.1:{shadow}; keepalive 64; }}
  split_clients "$request_id" $mirrored {{ {percent}% 1; * 0; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      {mirror}
      mirror_request_body on;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://production/invocations;
    }}
    location = /mirror {{
      internal;
      if ($mirrored = 0) {{ return 204; }}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://shadow/invocations;
    }}
  }}
}}
"""


class Nginx:
    """nginx with ngx_http_mirror_module in front of the same stubs: the peer people use."""

    def __init__(self, root: Path, production: int, shadow: int, percent: float) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/endpoints/bench/invocations"
        mirror = "mirror /mirror;" if percent > 0 else ""
        conf = NGINX_CONF.format(
            root=root,
            production=production,
            shadow=shadow,
            percent=min(percent, 99.99),
            port=self.port,
            mirror=mirror,
        )
        if percent >= 100 or percent <= 0:  # split_clients takes neither 0 % nor 100 %
            split = f'split_clients "$request_id" $mirrored {{ {min(percent, 99.99)}% 1; * 0; }}'
            always = f"map $request_id $mirrored {{ default {int(percent > 0)}; }}"
            conf = conf.replace(split, always)
        (root / "nginx.conf").write_text(conf)
        self.process = subprocess.Popen(
            [*pinned(1), "nginx", "-p", str(root), "-c", str(root / "nginx.conf"),
             "-g", "daemon off; user root;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        stop_pid(self.process)


def wrk_capacity(url: str, seconds: int, connections: int = 32) -> float:
    """Closed-loop requests per second from wrk (POST of a small JSON body)."""
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"shadowserve-wrk-{os.getpid()}.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.body = "[1, 2, 3]"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    result = subprocess.run(
        [*pinned(0), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    )  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no rate: {result.stdout}")
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} errors at capacity")
    return float(match.group(1))


def wrk_capacity_and_cores(url: str, seconds: int, pid: int) -> tuple[float, float]:
    """wrk's requests per second against a server, and the cores the process ``pid`` used
    meanwhile (its CPU seconds over the run's seconds)."""
    before, started = cpu_seconds(pid), time.monotonic()
    rps = wrk_capacity(url, seconds)
    return rps, (cpu_seconds(pid) - before) / (time.monotonic() - started)
