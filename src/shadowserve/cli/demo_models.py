"""The demo's two real models, trained on scikit-learn's bundled breast-cancer data set and
packaged the way SageMaker expects: model.tar.gz with the model and code/inference.py."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

INFERENCE_PY = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(rows, model):
    # rows: a NumPy array parsed from text/csv by the default input_fn. The answer is each
    # row's probability of class 1 (benign), as most classifiers in production return it.
    return [round(float(p), 6) for p in model.predict_proba(rows)[:, 1]]
"""


@dataclass(frozen=True)
class DemoData:
    rows: Any  # features, one row per request
    labels: Any
    feature_count: int


@dataclass(frozen=True)
class TrainedModel:
    name: str
    description: str
    pipeline: Pipeline
    accuracy: float  # on the held-out half

    def archive(self) -> bytes:
        """model.tar.gz: model.joblib beside code/inference.py."""
        model = io.BytesIO()
        joblib.dump(self.pipeline, model)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            _add(tar, "model.joblib", model.getvalue())
            _add(tar, "code/inference.py", INFERENCE_PY.encode())
        return buffer.getvalue()


def load_data() -> DemoData:
    features, labels = load_breast_cancer(return_X_y=True)
    return DemoData(features, labels, features.shape[1])


def train(data: DemoData) -> tuple[TrainedModel, TrainedModel]:
    """Production: logistic regression on two features. Candidate: gradient boosting on all."""
    train_x, test_x, train_y, test_y = train_test_split(
        data.rows, data.labels, test_size=0.5, random_state=0, stratify=data.labels
    )
    simple = make_pipeline(
        ColumnTransformer([("radius_texture", "passthrough", [0, 1])]),
        StandardScaler(),
        LogisticRegression(),
    )
    strong = make_pipeline(StandardScaler(), GradientBoostingClassifier(random_state=0))
    trained = []
    for name, description, pipeline in (
        ("cancer-v1", "logistic regression on 2 features", simple),
        ("cancer-v2", "gradient boosting on all 30 features", strong),
    ):
        pipeline.fit(train_x, train_y)
        accuracy = float(np.mean(pipeline.predict(test_x) == test_y))
        trained.append(TrainedModel(name, description, pipeline, accuracy))
    return trained[0], trained[1]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
