"""ListInferenceExperiments: every filter, sorting and boto3's paginator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.builders import ShadowSetup


def test_filters_sorting_and_pagination(sagemaker: Any, unique: Any) -> None:
    prefix = unique("lx")
    future = datetime.now(UTC) + timedelta(days=1)
    setups = []
    for index in range(3):
        setup = ShadowSetup(sagemaker, f"{prefix}-{index}")
        schedule = {"StartTime": future, "EndTime": future + timedelta(days=1)}
        setup.create(Schedule=schedule) if index else setup.create()
        setups.append(setup)
    setups[0].wait_for("Running")
    for setup in setups[1:]:
        setup.wait_for("Created")

    def names(**kwargs: Any) -> list[str]:
        listed = sagemaker.list_inference_experiments(NameContains=prefix, **kwargs)
        return [e["Name"] for e in listed["InferenceExperiments"]]

    all_names = [s.experiment for s in setups]
    assert names() == list(reversed(all_names))
    assert names(SortBy="Name", SortOrder="Ascending") == all_names
    assert names(StatusEquals="Running") == [all_names[0]]
    assert names(StatusEquals="Created", SortBy="Name", SortOrder="Ascending") == all_names[1:]
    assert names(Type="ShadowMode", SortBy="Status", SortOrder="Ascending")[0] == all_names[1]
    assert names(CreationTimeBefore=datetime.now(UTC) - timedelta(days=1)) == []
    assert len(names(LastModifiedTimeAfter=datetime.now(UTC) - timedelta(minutes=5))) == 3
    pages = list(
        sagemaker.get_paginator("list_inference_experiments").paginate(
            NameContains=prefix, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["InferenceExperiments"]) for p in pages] == [2, 1]
    summary = pages[0]["InferenceExperiments"][0]
    assert "Arn" not in summary  # the summary has no ARN in SageMaker's model
    assert {"Name", "Type", "Status", "CreationTime", "LastModifiedTime", "Schedule"} <= set(
        summary
    )
