"""Per-model Python environments for ``code/requirements.txt``, as SageMaker's framework
containers install it before loading the model.

When the server's own packages already satisfy every requirement, the worker runs on the
server's Python and nothing is installed (so an offline server keeps working). Otherwise an
environment is built once per requirements file (by its hash) under ``<root>/<hash>``: a
venv whose ``.pth`` file adds the server's site-packages behind its own, so the model sees
everything the server has and pip installs only what is missing or needs another version.
pip's output goes to the endpoint's log stream; a failed install fails the deployment with
pip's own last words as the FailureReason.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from shadowserve.workers.artifacts import ArtifactError, exclusive

INSTALL_TIMEOUT = 900.0  # seconds; large frameworks take minutes to download
Log = Callable[[str], None]


class InstallFailed(ArtifactError):
    """The requirements could not be installed; the message is the FailureReason."""


def unsatisfied(requirements: Path) -> list[str]:
    """The requirements the server's environment does not satisfy (option lines such as
    ``--index-url`` are left to pip). Raises InstallFailed for a line pip could not read."""
    missing = []
    for line in requirements.read_text().splitlines():
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise InstallFailed(f"code/requirements.txt: {exc}") from exc
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, True):
            missing.append(f"{requirement} (the server has {installed})")
    return missing


class ModelEnvironments:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._lock = threading.Lock()  # one build at a time; the same file is built once

    def python_for(self, requirements: Path, log: Log) -> str:
        """The interpreter a model with these requirements runs on."""
        if not requirements.is_file():
            return sys.executable
        missing = unsatisfied(requirements)
        if not missing:
            log("code/requirements.txt: every requirement is met by the server's packages")
            return sys.executable
        digest = hashlib.sha256(
            requirements.read_bytes() + sys.version.encode() + sys.executable.encode()
        ).hexdigest()[:16]
        target = self._root / digest
        # One build at a time here, and across processes sharing the root (a node's instances).
        with self._lock, exclusive(self._root / f"{digest}.lock"):
            if not (target / ".complete").exists():
                log(f"code/requirements.txt: installing {', '.join(missing)}")
                self._build(requirements, target, log)
            else:
                log(f"code/requirements.txt: using the environment built before ({digest})")
        return str(_python(target))

    def _build(self, requirements: Path, target: Path, log: Log) -> None:
        # Built in place (venvs know their own path); ".complete" marks a finished build.
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _run([sys.executable, "-m", "venv", "--without-pip", str(target)], log, None)
            _layer_over_server(target)
            _run(
                [str(_python(target)), "-m", "pip", "install", "--no-input",
                 "--disable-pip-version-check", "--retries", "2", "-r", str(requirements)],
                log, requirements.parent,
            )  # fmt: skip
            (target / ".complete").touch()
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise


def _python(environment: Path) -> Path:
    return environment / "bin" / "python"


def _layer_over_server(environment: Path) -> None:
    """The server's site-packages behind the environment's own (``site.addsitedir`` also runs
    their .pth files, so an editable install of shadowserve is found too)."""
    own = environment / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    own = own / "site-packages"
    own.mkdir(parents=True, exist_ok=True)
    server_dirs = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    lines = [f"import site; site.addsitedir({path!r})" for path in server_dirs]
    (own / "_shadowserve_server.pth").write_text("\n".join(lines) + "\n")


def _run(command: list[str], log: Log, cwd: Path | None) -> None:
    """Run a command, its every output line logged; InstallFailed with its last lines."""
    try:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace",
        )  # fmt: skip
    except OSError as exc:
        raise InstallFailed(f"code/requirements.txt could not be installed: {exc}") from exc
    assert process.stdout is not None
    last: list[str] = []
    timer = threading.Timer(INSTALL_TIMEOUT, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            text = line.rstrip("\n")
            log(text)
            last = [*last[-3:], text] if text.strip() else last
        code = process.wait()
    finally:
        timer.cancel()
    if code != 0:
        detail = " / ".join(line.strip() for line in last) or f"exit status {code}"
        raise InstallFailed(f"code/requirements.txt could not be installed: {detail}")
