"""SageMaker's framework-container handler convention, run in the built-in worker.

``code/inference.py`` (or the module named by SAGEMAKER_PROGRAM) defines ``model_fn`` and
either ``transform_fn`` or any of ``input_fn`` / ``predict_fn`` / ``output_fn``; missing ones
fall back to the defaults below, which speak JSON, CSV and NPY.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from packaging.requirements import InvalidRequirement, Requirement

JSON, CSV, NPY = "application/json", "text/csv", "application/x-npy"


class UnsupportedMediaType(Exception):
    """The default handlers cannot read or write this content type (HTTP 415)."""


class ModelLoadError(Exception):
    """The model could not be loaded; the message becomes the endpoint's FailureReason."""


@dataclass
class Handlers:
    model: Any
    input_fn: Callable[[bytes, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]
    transform_fn: Callable[[Any, bytes, str, str], Any] | None

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        if self.transform_fn is not None:
            result = self.transform_fn(self.model, body, content_type, accept)
        else:
            data = self.input_fn(body, content_type)
            prediction = self.predict_fn(data, self.model)
            result = self.output_fn(prediction, accept)
        return _as_response(result, accept)


def load_handlers(model_dir: Path, program: str | None) -> Handlers:
    code_dir = model_dir / "code"
    module = _import_program(code_dir, program or "inference.py")
    _check_requirements(code_dir / "requirements.txt")
    model_fn = getattr(module, "model_fn", None) if module else None
    try:
        model = model_fn(str(model_dir)) if model_fn else None
    except Exception as exc:
        raise ModelLoadError(f"model_fn failed: {type(exc).__name__}: {exc}") from exc
    return Handlers(
        model=model,
        input_fn=getattr(module, "input_fn", default_input_fn),
        predict_fn=getattr(module, "predict_fn", default_predict_fn),
        output_fn=getattr(module, "output_fn", default_output_fn),
        transform_fn=getattr(module, "transform_fn", None),
    )


def _import_program(code_dir: Path, program: str) -> ModuleType | None:
    path = code_dir / (program if program.endswith(".py") else f"{program}.py")
    if not path.is_file():
        if program != "inference.py":
            raise ModelLoadError(f"SAGEMAKER_PROGRAM {program} was not found in code/.")
        return None
    sys.path.insert(0, str(code_dir))  # so inference.py can import its sibling modules
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"Cannot import {path.name}.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelLoadError(f"Importing {path.name} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _check_requirements(path: Path) -> None:
    """requirements.txt is honoured by checking, not installing: every requirement must be
    satisfied by the server's environment, otherwise the model fails to load saying which."""
    if not path.is_file():
        return
    missing = []
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise ModelLoadError(f"code/requirements.txt: {exc}") from exc
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            missing.append(str(requirement))
            continue
        if requirement.specifier and installed not in requirement.specifier:
            missing.append(f"{requirement} (installed: {installed})")
    if missing:
        raise ModelLoadError(
            "code/requirements.txt needs packages the server's Python does not have: "
            + ", ".join(missing)
            + ". shadowserve does not install packages; install them where shadowserve runs."
        )


def default_input_fn(body: bytes, content_type: str) -> Any:
    media = _media_type(content_type)
    if media == JSON:
        return json.loads(body)
    if media == CSV:
        rows = [[float(cell) for cell in row] for row in csv.reader(io.StringIO(body.decode()))]
        return np.array(rows)
    if media == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise UnsupportedMediaType(f"Content type {content_type} is not supported by input_fn.")


def default_predict_fn(data: Any, model: Any) -> Any:
    if model is None:
        raise ValueError("model_fn returned no model")
    if hasattr(model, "predict"):
        return model.predict(data)
    return model(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    media = _media_type(accept) if accept and accept != "*/*" else JSON
    if media == JSON:
        return json.dumps(_plain(prediction)).encode(), JSON
    if media == CSV:
        out = io.StringIO()
        rows = np.atleast_2d(np.asarray(prediction))
        csv.writer(out).writerows(rows.tolist())
        return out.getvalue().encode(), CSV
    if media == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction), allow_pickle=False)
        return buffer.getvalue(), NPY
    raise UnsupportedMediaType(f"Accept {accept} is not supported by output_fn.")


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_response(result: Any, accept: str) -> tuple[bytes, str]:
    """Handlers may return a body, or (body, content type) as SageMaker's toolkit allows."""
    content_type = accept if accept and accept != "*/*" else JSON
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    if isinstance(result, str):
        result = result.encode()
    if not isinstance(result, bytes | bytearray):
        result = json.dumps(_plain(result)).encode()
    return bytes(result), content_type


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()
