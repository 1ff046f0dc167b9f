"""AWS::SageMaker::InferenceExperiment, as AWS's own CloudFormation handler drives the API:
DesiredState starts or stops the experiment, other changes become UpdateInferenceExperiment
in the fields the experiment's status allows."""

from __future__ import annotations

from typing import Any

from shadowserve.cloudcontrol.handler import (
    DONE,
    WAIT,
    HandlerFailure,
    Settled,
    failure_from,
    not_found,
    tags_of,
    update_tags,
)
from shadowserve.domain.arns import Scope
from shadowserve.domain.errors import DomainError
from shadowserve.domain.experiment import ExperimentStatus, InferenceExperiment
from shadowserve.services import experiments
from shadowserve.services.context import ControlPlane
from shadowserve.services.endpoint_configs import get_endpoint_config
from shadowserve.services.endpoints import find_endpoint
from shadowserve.services.listing import ListQuery

S = ExperimentStatus
TYPE = "AWS::SageMaker::InferenceExperiment"
SETTLING = {S.CREATING, S.STARTING, S.UPDATING, S.STOPPING}
SUMMARY = ["Name", "Type", "RoleArn", "Description", "Schedule", "CreationTime",
           "LastModifiedTime", "Status", "StatusReason"]  # fmt: skip


class InferenceExperimentType:
    type_name = TYPE
    name_property = "Name"  # required by the schema: never generated

    def read(self, plane: ControlPlane, scope: Scope, identifier: str) -> dict[str, Any] | None:
        try:
            view = experiments.describe_inference_experiment(plane, scope, identifier)
        except DomainError:
            return None
        found = _properties(view.experiment)
        metadata: dict[str, Any] = {"EndpointName": view.experiment.endpoint_name}
        if view.endpoint is not None:
            metadata["EndpointConfigName"] = view.endpoint.endpoint_config_name
            metadata["EndpointStatus"] = view.endpoint.endpoint_status.value
        found["EndpointMetadata"] = metadata
        found["Tags"] = tags_of(plane, scope, view.experiment.arn)
        return found

    def list(self, plane: ControlPlane, scope: Scope) -> list[dict[str, Any]]:
        listed, token = [], None
        while True:
            page = experiments.list_inference_experiments(
                plane, scope, ListQuery(max_results=100, next_token=token)
            )
            listed += page.items
            token = page.next_token
            if token is None:
                break
        # Like AWS's list handler: built from the summary fields only.
        return [{k: v for k, v in _properties(e).items() if k in SUMMARY} for e in listed]

    def create(self, plane: ControlPlane, scope: Scope, model: dict[str, Any]) -> str:
        body = {k: v for k, v in model.items() if k not in ("StatusReason", "DesiredState")}
        name = body.get("Name", "")
        try:
            if "ShadowModeConfig" not in body:
                body["ShadowModeConfig"] = _inferred_shadow_mode(plane, scope, body)
            request = experiments.CreateInferenceExperimentInput.model_validate(body)
            experiments.create_inference_experiment(plane, scope, request)
        except DomainError as exc:
            raise failure_from(exc, TYPE, name) from exc
        return str(name)

    def update(self, plane: ControlPlane, scope: Scope, identifier: str,
               current: dict[str, Any], desired: dict[str, Any]) -> None:  # fmt: skip
        try:
            status = _status(plane, scope, identifier)
            if status == S.CREATED:
                _update_created(plane, scope, identifier, current, desired)
            elif status == S.RUNNING:
                _update_running(plane, scope, identifier, current, desired)
            # Tags carry the comparison settings: a bad one fails the update with its reason.
            arn = f"{current.get('Arn')}"
            update_tags(plane, scope, arn, current.get("Tags"), desired.get("Tags"))
        except DomainError as exc:
            raise failure_from(exc, TYPE, identifier) from exc

    def delete(self, plane: ControlPlane, scope: Scope, identifier: str) -> None:
        """A Running experiment is stopped first (every variant retained), then deleted."""
        try:
            status = _status(plane, scope, identifier)
            if status == S.RUNNING:
                experiments.stop_inference_experiment(
                    plane, scope, experiments.StopInferenceExperimentInput(
                        name=identifier, model_variant_actions={},
                        desired_state=S.COMPLETED,
                    ),
                )  # fmt: skip
            elif status not in SETTLING:
                experiments.delete_inference_experiment(plane, scope, identifier)
        except DomainError as exc:
            raise failure_from(exc, TYPE, identifier) from exc

    def settled(self, plane: ControlPlane, scope: Scope, identifier: str,
                operation: str) -> Settled:  # fmt: skip
        try:
            status = _status(plane, scope, identifier)
        except DomainError as exc:
            if operation == "DELETE":
                return DONE
            raise not_found(TYPE, identifier) from exc
        if status in SETTLING:
            return WAIT
        if operation == "DELETE":
            self.delete(plane, scope, identifier)
            return WAIT
        if operation == "CREATE" and status not in (S.CREATED, S.RUNNING):
            raise HandlerFailure(
                "NotStabilized",
                f"Resource of type '{TYPE}' with identifier '{identifier}' did not stabilize: "
                f"it is {status}.",
            )
        return DONE


def _status(plane: ControlPlane, scope: Scope, name: str) -> S:
    return experiments.describe_inference_experiment(plane, scope, name).experiment.status


def _properties(experiment: InferenceExperiment) -> dict[str, Any]:
    found = experiment.model_dump(
        mode="json", exclude_none=True, exclude={"progress", "endpoint_name", "completion_time"}
    )
    found["EndpointName"] = experiment.endpoint_name
    for variant in found.get("ModelVariants", []):
        variant.pop("Status", None)
    if experiment.status in (S.RUNNING, S.COMPLETED, S.CANCELLED):
        found["DesiredState"] = experiment.status.value
    return found


def _inferred_shadow_mode(plane: ControlPlane, scope: Scope, body: dict[str, Any]) -> Any:
    """The registry schema lets ShadowModeConfig out; the API needs it. The production
    variant is the endpoint's; the other variant is the shadow, copied 100 % of requests."""
    with plane.repository(scope) as repo:
        endpoint = find_endpoint(repo, str(body.get("EndpointName", ""))).value
        config = get_endpoint_config(repo, endpoint.endpoint_config_name)
    production = {v.variant_name for v in config.production_variants}
    names = [v.get("VariantName") for v in body.get("ModelVariants", [])]
    sources = [n for n in names if n in production]
    shadows = [n for n in names if n not in production]
    if len(sources) != 1 or len(shadows) != 1:
        raise HandlerFailure(
            "InvalidRequest",
            "Invalid request provided: ShadowModeConfig is missing and cannot be inferred: "
            "ModelVariants must hold the endpoint's production variant and one shadow.",
        )
    return {
        "SourceModelVariantName": sources[0],
        "ShadowModelVariants": [{"ShadowModelVariantName": shadows[0], "SamplingPercentage": 100}],
    }


def _update_created(plane: ControlPlane, scope: Scope, name: str,
                    current: dict[str, Any], desired: dict[str, Any]) -> None:  # fmt: skip
    if desired.get("DesiredState") == S.RUNNING.value:
        experiments.start_inference_experiment(plane, scope, name)
        return
    fields = ("Description", "Schedule", "DataStorageConfig", "ModelVariants", "ShadowModeConfig")
    _send_update(plane, scope, name, current, desired, fields)


def _update_running(plane: ControlPlane, scope: Scope, name: str,
                    current: dict[str, Any], desired: dict[str, Any]) -> None:  # fmt: skip
    state = desired.get("DesiredState")
    if state in (S.COMPLETED.value, S.CANCELLED.value):
        experiments.stop_inference_experiment(
            plane, scope, _stop_request(name, current, desired, S(state))
        )
        return
    _send_update(plane, scope, name, current, desired,
                 ("Description", "Schedule", "ShadowModeConfig"))  # fmt: skip


def _send_update(plane: ControlPlane, scope: Scope, name: str, current: dict[str, Any],
                 desired: dict[str, Any], fields: tuple[str, ...]) -> None:  # fmt: skip
    changes = {f: desired[f] for f in fields if f in desired and desired[f] != current.get(f)}
    if changes:
        request = experiments.UpdateInferenceExperimentInput.model_validate(
            {"Name": name, **changes}
        )
        experiments.update_inference_experiment(plane, scope, request)


def _stop_request(name: str, current: dict[str, Any], desired: dict[str, Any],
                  state: S) -> experiments.StopInferenceExperimentInput:  # fmt: skip
    """Actions derived from the desired ModelVariants, as AWS's handler derives them:
    production kept → Retain; production dropped → Remove it and Promote the shadow;
    shadow dropped → Remove."""
    mode = current.get("ShadowModeConfig", {})
    production = mode.get("SourceModelVariantName")
    shadow = (mode.get("ShadowModelVariants") or [{}])[0].get("ShadowModelVariantName")
    kept = {v.get("VariantName") for v in desired.get("ModelVariants", [])}
    if production not in kept:
        actions = {production: "Remove", shadow: "Promote"}
    else:
        actions = {production: "Retain", shadow: "Retain" if shadow in kept else "Remove"}
    return experiments.StopInferenceExperimentInput.model_validate({
        "Name": name, "ModelVariantActions": actions, "DesiredState": state.value,
        "DesiredModelVariants": desired.get("ModelVariants"),
        "Reason": desired.get("StatusReason"),
    })  # fmt: skip
