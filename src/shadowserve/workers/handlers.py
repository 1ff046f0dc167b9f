"""SageMaker's framework-container handler convention, run in the built-in worker.

``code/inference.py`` (or the module named by SAGEMAKER_PROGRAM, in the code directory:
``code/`` or what SAGEMAKER_SUBMIT_DIRECTORY names) defines ``model_fn`` and either
``transform_fn`` or any of ``input_fn`` / ``predict_fn`` / ``output_fn``; missing ones fall
back to the defaults below, which speak JSON, CSV and NPY. With no program at all, the
default ``model_fn`` loads a scikit-learn, XGBoost or TorchScript model file.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

JSON, CSV, NPY = "application/json", "text/csv", "application/x-npy"
Answer = bytes | Iterator[bytes]


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

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[Answer, str]:
        """The answer and its content type. A handler that returns an iterator (a generator
        yielding tokens, say) streams: the answer is then an iterator of chunks."""
        if self.transform_fn is not None:
            result = self.transform_fn(self.model, body, content_type, accept)
        else:
            data = self.input_fn(body, content_type)
            prediction = self.predict_fn(data, self.model)
            if _is_stream(prediction):
                return _streamed(prediction, accept)
            result = self.output_fn(prediction, accept)
        if _is_stream(result):
            return _streamed(result, accept)
        return _as_response(result, accept)


def load_handlers(model_dir: Path, code_dir: Path, program: str | None) -> Handlers:
    """The handlers of a model: its program's functions over the defaults. With no program
    at all, ``model_fn`` is the default loader of common model files."""
    module = _import_program(code_dir, program)
    model_fn = getattr(module, "model_fn", None) if module else default_model_fn
    try:
        model = model_fn(str(model_dir)) if model_fn else None
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"model_fn failed: {type(exc).__name__}: {exc}") from exc
    return Handlers(
        model=model,
        input_fn=getattr(module, "input_fn", default_input_fn),
        predict_fn=getattr(module, "predict_fn", default_predict_fn),
        output_fn=getattr(module, "output_fn", default_output_fn),
        transform_fn=getattr(module, "transform_fn", None),
    )


def _import_program(code_dir: Path, program: str | None) -> ModuleType | None:
    name = program or "inference.py"
    path = code_dir / (name if name.endswith(".py") else f"{name}.py")
    if not path.is_file():
        if program is not None:
            raise ModelLoadError(f"SAGEMAKER_PROGRAM {program} was not found in {code_dir.name}/.")
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


def default_model_fn(model_dir: str) -> Any:
    """What SageMaker's framework containers load when there is no inference.py: a
    scikit-learn model saved with joblib or pickle, an XGBoost model, or TorchScript."""
    files = sorted(p for p in Path(model_dir).iterdir() if p.is_file() and p.name[0] != ".")
    for path in files:
        loader = _DEFAULT_LOADERS.get(path.suffix) or _DEFAULT_LOADERS.get(path.name)
        if loader is not None:
            return loader(path)
    shown = ", ".join(p.name for p in files[:10]) or "nothing"
    raise ModelLoadError(
        "The model archive has no code/inference.py, and no model file the default model_fn "
        "loads (model.joblib or *.joblib, *.pkl / *.pickle, xgboost-model or *.ubj / *.bst "
        f"for XGBoost, *.pt / *.pth TorchScript); it holds {shown}."
    )


def _load_joblib(path: Path) -> Any:
    import joblib  # noqa: PLC0415 - only models saved with joblib need it

    return joblib.load(path)


def _load_pickle(path: Path) -> Any:
    import pickle  # noqa: PLC0415

    with path.open("rb") as handle:
        return pickle.load(handle)


def _framework(name: str, path: Path, kind: str) -> Any:
    """The framework a model file needs, or a load error saying how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ModelLoadError(
            f"{path.name} is {kind} model, but {name} is not installed: add it to "
            f"code/requirements.txt, or pip install {name} where shadowserve runs."
        ) from exc


def _load_xgboost(path: Path) -> Any:
    xgboost = _framework("xgboost", path, "an XGBoost")
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except xgboost.core.XGBoostError:
        return _load_pickle(path)  # older containers pickled the booster
    return _XGBoostModel(booster)


def _load_torchscript(path: Path) -> Any:
    torch = _framework("torch", path, "a PyTorch")
    # The GPU when the instance has one (the cluster runtime hands an instance its GPUs
    # through CUDA_VISIBLE_DEVICES), else the CPU, as SageMaker's PyTorch container does.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    module = torch.jit.load(str(path), map_location=device)
    module.eval()
    return _TorchModel(module, device)


@dataclass
class _XGBoostModel:
    booster: Any

    def predict(self, data: Any) -> Any:
        import xgboost  # noqa: PLC0415

        return self.booster.predict(xgboost.DMatrix(np.asarray(data, dtype=float)))


@dataclass
class _TorchModel:
    module: Any
    device: str = "cpu"

    def predict(self, data: Any) -> Any:
        import torch  # noqa: PLC0415

        inputs = torch.as_tensor(np.asarray(data), dtype=torch.float32, device=self.device)
        with torch.no_grad():
            return self.module(inputs).cpu().numpy()


_DEFAULT_LOADERS: dict[str, Callable[[Path], Any]] = {
    ".joblib": _load_joblib,
    ".pkl": _load_pickle,
    ".pickle": _load_pickle,
    "xgboost-model": _load_xgboost,
    ".ubj": _load_xgboost,
    ".bst": _load_xgboost,
    ".pt": _load_torchscript,
    ".pth": _load_torchscript,
}


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


def _is_stream(value: Any) -> bool:
    return isinstance(value, Iterator) and not isinstance(value, str | bytes | bytearray)


def _streamed(items: Iterator[Any], accept: str) -> tuple[Iterator[bytes], str]:
    """Chunks from what a handler yields: bytes as they are, text as UTF-8, anything else as
    one JSON line. The content type is the one asked for, or else what the first item is."""
    first = next(items, None)
    if accept and _media_type(accept) not in ("*/*", JSON):
        content_type = accept
    elif isinstance(first, str):
        content_type = "text/plain; charset=utf-8"
    elif isinstance(first, bytes | bytearray) or first is None:
        content_type = "application/octet-stream"
    else:
        content_type = "application/jsonlines"

    def chunks() -> Iterator[bytes]:
        if first is None:
            return
        for item in itertools.chain([first], items):
            if isinstance(item, bytes | bytearray):
                yield bytes(item)
            elif isinstance(item, str):
                yield item.encode()
            else:
                yield json.dumps(_plain(item)).encode() + b"\n"

    return chunks(), content_type


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()
