"""The rules of models, endpoint configs, endpoints, listing and tags, on the in-memory fakes
(tests/unit/fake_world.py): names taken, references that must hold, which updates an
endpoint's status allows, how List filters, sorts and pages, and the tag limit. The wire
(AWS codes and words, boto3 waiters and paginators) keeps one end-to-end test per family in
tests/integration/test_models_configs_endpoints.py and test_tags.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shadowserve.domain.clock import FakeClock
from shadowserve.domain.errors import InvalidInput, ResourceInUse, ResourceLimitExceeded
from shadowserve.domain.resources import EndpointStatus
from shadowserve.services import endpoint_configs, endpoints, models, tags
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import ListQuery
from shadowserve.services.reconciler import Reconciler
from tests.unit.fake_world import SCOPE, T0, bare_plane


def _model(plane: ControlPlane, name: str, **fields: Any) -> str:
    request = {"ModelName": name, "PrimaryContainer": {"Image": "x"}, **fields}
    made = models.create_model(plane, SCOPE, models.CreateModelInput.model_validate(request))
    return made.model_arn


def _variant(name: str, model: str, count: int = 1) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
    }


def _config(plane: ControlPlane, name: str, *variants: dict[str, Any], **fields: Any) -> None:
    request = {"EndpointConfigName": name, "ProductionVariants": list(variants), **fields}
    endpoint_configs.create_endpoint_config(
        plane, SCOPE, endpoint_configs.CreateEndpointConfigInput.model_validate(request)
    )


def _endpoint(plane: ControlPlane, name: str, config: str) -> None:
    endpoints.create_endpoint(
        plane,
        SCOPE,
        endpoints.CreateEndpointInput(endpoint_name=name, endpoint_config_name=config),
    )


def _settle(plane: ControlPlane) -> None:
    reconciler = Reconciler(plane, interval=0)
    for _ in range(5):
        reconciler.run_once()


def _status(plane: ControlPlane, name: str) -> EndpointStatus:
    return endpoints.describe_endpoint(plane, SCOPE, name).endpoint.endpoint_status


@pytest.fixture
def plane() -> ControlPlane:
    return bare_plane()


def test_a_model_name_is_taken_until_deleted_and_a_model_needs_a_container(
    plane: ControlPlane,
) -> None:
    arn = _model(plane, "Churn")
    assert arn == "arn:aws:sagemaker:eu-west-1:123456789012:model/churn"
    with pytest.raises(ResourceInUse, match=f'Cannot create already existing model "{arn}"'):
        _model(plane, "Churn")
    models.delete_model(plane, SCOPE, "Churn")
    with pytest.raises(InvalidInput, match=f'Could not find model "{arn}".'):
        models.describe_model(plane, SCOPE, "Churn")
    with pytest.raises(InvalidInput):
        models.delete_model(plane, SCOPE, "Churn")
    with pytest.raises(InvalidInput, match="Either PrimaryContainer or Containers"):
        models.create_model(plane, SCOPE, models.CreateModelInput(model_name="bare"))
    _model(plane, "Churn")  # the name is free again


def test_an_endpoint_config_must_name_existing_models_and_unique_variants(
    plane: ControlPlane,
) -> None:
    _model(plane, "m")
    with pytest.raises(InvalidInput, match="absent"):
        _config(plane, "c", _variant("A", "absent"))
    with pytest.raises(InvalidInput, match=r"must be unique.*\['A'\]"):
        _config(plane, "c", _variant("A", "m"), _variant("A", "m"))
    with pytest.raises(InvalidInput, match="exactly one production variant"):
        _config(
            plane,
            "c",
            _variant("A", "m"),
            _variant("B", "m"),
            ShadowProductionVariants=[_variant("S", "m")],
        )
    _config(plane, "c", _variant("A", "m"), ShadowProductionVariants=[_variant("S", "m")])
    with pytest.raises(ResourceInUse, match="endpoint configuration"):
        _config(plane, "c", _variant("A", "m"))
    endpoint_configs.delete_endpoint_config(plane, SCOPE, "c")
    with pytest.raises(InvalidInput, match="Could not find endpoint configuration"):
        endpoint_configs.describe_endpoint_config(plane, SCOPE, "c")


def test_an_endpoint_needs_its_config_and_refuses_updates_until_in_service(
    plane: ControlPlane,
) -> None:
    _model(plane, "m")
    _config(plane, "c", _variant("A", "m"))
    with pytest.raises(InvalidInput):
        _endpoint(plane, "ep", "nothing")
    _endpoint(plane, "ep", "c")
    with pytest.raises(ResourceInUse, match="Cannot create already existing endpoint"):
        _endpoint(plane, "ep", "c")
    assert _status(plane, "ep") == EndpointStatus.CREATING
    with pytest.raises(InvalidInput):  # a rollout only starts from InService
        endpoints.update_endpoint(plane, SCOPE, "ep", "c")
    _settle(plane)
    assert _status(plane, "ep") == EndpointStatus.IN_SERVICE
    endpoints.delete_endpoint(plane, SCOPE, "ep")
    assert _status(plane, "ep") == EndpointStatus.DELETING
    with pytest.raises(InvalidInput):
        endpoints.update_endpoint(plane, SCOPE, "ep", "c")
    _settle(plane)
    with pytest.raises(InvalidInput, match='Could not find endpoint "arn:aws:sagemaker:'):
        endpoints.describe_endpoint(plane, SCOPE, "ep")


def test_weights_and_capacities_change_named_variants_only(plane: ControlPlane) -> None:
    _model(plane, "m")
    _config(plane, "c", _variant("Blue", "m", 2), _variant("Green", "m"))
    _endpoint(plane, "ep", "c")
    _settle(plane)
    change = endpoints.DesiredWeightAndCapacity
    with pytest.raises(InvalidInput, match="Nope"):
        endpoints.update_endpoint_weights_and_capacities(
            plane, SCOPE, "ep", [change(variant_name="Nope", desired_weight=1.0)]
        )
    endpoints.update_endpoint_weights_and_capacities(
        plane,
        SCOPE,
        "ep",
        [change(variant_name="Green", desired_weight=5.0, desired_instance_count=4)],
    )
    assert _status(plane, "ep") == EndpointStatus.UPDATING
    _settle(plane)
    view = endpoints.describe_endpoint(plane, SCOPE, "ep")
    assert view.endpoint.endpoint_status == EndpointStatus.IN_SERVICE
    green = view.endpoint.capacity("Green")
    assert green is not None
    assert (green.desired_weight, green.desired_instance_count) == (5.0, 4)
    assert view.endpoint.capacity("Blue") is None  # untouched: the config's own figures


def test_lists_filter_by_name_and_time_sort_and_page() -> None:
    clock = FakeClock(T0)
    plane = bare_plane(clock)
    names = [f"lst-{index}" for index in range(7)]
    for name in names:
        _model(plane, name)
        clock.advance(timedelta(seconds=1))
    _model(plane, "other")
    boundary = T0 + timedelta(seconds=3, milliseconds=500)

    def listed(**fields: Any) -> list[str]:
        page = models.list_models(plane, SCOPE, ListQuery(name_contains="lst", **fields))
        return [model.model_name for model in page.items]

    assert listed(max_results=10) == list(reversed(names))  # CreationTime, Descending
    assert listed(sort_by="Name", sort_order="Ascending") == names
    first = models.list_models(plane, SCOPE, ListQuery(name_contains="lst", max_results=3))
    assert first.next_token is not None
    second = models.list_models(
        plane, SCOPE, ListQuery(name_contains="lst", max_results=3, next_token=first.next_token)
    )
    assert [m.model_name for m in first.items + second.items] == list(reversed(names))[:6]
    assert sorted(listed(creation_time_after=boundary)) == names[4:]
    assert sorted(listed(creation_time_before=boundary)) == names[:4]
    with pytest.raises(InvalidInput):
        listed(next_token="not-a-token")


def test_list_endpoints_by_status(plane: ControlPlane) -> None:
    _model(plane, "m")
    _config(plane, "c", _variant("A", "m"))
    _endpoint(plane, "ready", "c")
    _settle(plane)
    _endpoint(plane, "new", "c")

    def by_status(status: str) -> list[str]:
        page = endpoints.list_endpoints(plane, SCOPE, ListQuery(status_equals=status))
        return [endpoint.endpoint_name for endpoint in page.items]

    assert by_status("InService") == ["ready"]
    assert by_status("Creating") == ["new"]
    assert by_status("Failed") == []


def test_tags_keep_their_order_overwrite_by_key_and_stop_at_fifty(plane: ControlPlane) -> None:
    arn = _model(plane, "m", Tags=[{"Key": "team", "Value": "ml"}])
    tags.add_tags(plane, SCOPE, arn, [tags.Tag(key=f"k{i}", value=str(i)) for i in range(44)])
    tags.add_tags(plane, SCOPE, arn, [tags.Tag(key="team", value="search")])
    listed = tags.list_tags(plane, SCOPE, arn, None, None).items
    assert [t.key for t in listed] == ["team"] + [f"k{i}" for i in range(44)]
    assert listed[0].value == "search"
    with pytest.raises(ResourceLimitExceeded, match="at most 50 tags"):
        tags.add_tags(plane, SCOPE, arn, [tags.Tag(key=f"x{i}", value="") for i in range(6)])
    assert len(tags.list_tags(plane, SCOPE, arn, None, None).items) == 45  # nothing half-added
    tags.delete_tags(plane, SCOPE, arn, ["team", "k0"])
    assert [t.key for t in tags.list_tags(plane, SCOPE, arn, None, None).items][:2] == ["k1", "k2"]


def test_tags_of_a_missing_or_deleted_resource(plane: ControlPlane) -> None:
    missing = "arn:aws:sagemaker:eu-west-1:123456789012:model/not-there"
    for call in (
        lambda: tags.list_tags(plane, SCOPE, missing, None, None),
        lambda: tags.add_tags(plane, SCOPE, missing, [tags.Tag(key="a", value="b")]),
        lambda: tags.delete_tags(plane, SCOPE, missing, ["a"]),
        lambda: tags.list_tags(plane, SCOPE, "not-an-arn", None, None),
    ):
        with pytest.raises(InvalidInput, match="does not exist"):
            call()
    arn = _model(plane, "gone", Tags=[{"Key": "a", "Value": "1"}])
    models.delete_model(plane, SCOPE, "gone")
    _model(plane, "gone")
    assert tags.list_tags(plane, SCOPE, arn, None, None).items == []


def test_shadowserves_own_tags_must_parse(plane: ControlPlane) -> None:
    arn = _model(plane, "m")
    with pytest.raises(InvalidInput, match="compare-mode"):
        tags.add_tags(plane, SCOPE, arn, [tags.Tag(key="shadowserve:compare-mode", value="?")])
    assert tags.list_tags(plane, SCOPE, arn, None, None).items == []
    tags.add_tags(plane, SCOPE, arn, [tags.Tag(key="shadowserve:compare-mode", value="candidate")])
