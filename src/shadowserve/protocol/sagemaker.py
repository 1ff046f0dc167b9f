"""SageMaker's control-plane operations: request dict in, response dict out.

Each handler turns the validated request into a typed input, calls one service function
and shapes the result. Responses are trimmed to botocore's output shapes afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shadowserve.domain.arns import Scope
from shadowserve.domain.shapes import Shape
from shadowserve.protocol import sagemaker_views as views
from shadowserve.services import endpoint_configs, endpoints, experiments, models, tags
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import ListQuery, Page

Body = dict[str, Any]
Handler = Callable[[ControlPlane, Scope, Body], Body]


class ListInput(Shape):
    name_contains: str | None = None
    status_equals: str | None = None
    type: str | None = None
    creation_time_after: datetime | None = None
    creation_time_before: datetime | None = None
    last_modified_time_after: datetime | None = None
    last_modified_time_before: datetime | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    max_results: int | None = None
    next_token: str | None = None


def _query(body: Body) -> ListQuery:
    parsed = ListInput.model_validate(body)
    return ListQuery(
        name_contains=parsed.name_contains,
        status_equals=parsed.status_equals,
        type_equals=parsed.type,
        creation_time_after=parsed.creation_time_after,
        creation_time_before=parsed.creation_time_before,
        last_modified_time_after=parsed.last_modified_time_after,
        last_modified_time_before=parsed.last_modified_time_before,
        sort_by=parsed.sort_by or "CreationTime",
        sort_order=parsed.sort_order or "Descending",
        max_results=parsed.max_results,
        next_token=parsed.next_token,
    )


def _page(key: str, page: Page[Any]) -> Body:
    items = [item.model_dump(exclude_none=True) for item in page.items]
    return {key: items, "NextToken": page.next_token}


# Models


def create_model(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    model = models.create_model(plane, scope, models.CreateModelInput.model_validate(body))
    return {"ModelArn": model.model_arn}


def describe_model(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    return views.describe_model(models.describe_model(plane, scope, body["ModelName"]))


def list_models(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    return _page("Models", models.list_models(plane, scope, _query(body)))


def delete_model(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    models.delete_model(plane, scope, body["ModelName"])
    return {}


# Endpoint configs


def create_endpoint_config(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = endpoint_configs.CreateEndpointConfigInput.model_validate(body)
    config = endpoint_configs.create_endpoint_config(plane, scope, request)
    return {"EndpointConfigArn": config.endpoint_config_arn}


def describe_endpoint_config(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    config = endpoint_configs.describe_endpoint_config(plane, scope, body["EndpointConfigName"])
    return views.describe_endpoint_config(config)


def list_endpoint_configs(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    page = endpoint_configs.list_endpoint_configs(plane, scope, _query(body))
    return _page("EndpointConfigs", page)


def delete_endpoint_config(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    endpoint_configs.delete_endpoint_config(plane, scope, body["EndpointConfigName"])
    return {}


# Endpoints


def create_endpoint(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = endpoints.CreateEndpointInput.model_validate(body)
    return {"EndpointArn": endpoints.create_endpoint(plane, scope, request).endpoint_arn}


def describe_endpoint(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    return views.describe_endpoint(endpoints.describe_endpoint(plane, scope, body["EndpointName"]))


def list_endpoints(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    return _page("Endpoints", endpoints.list_endpoints(plane, scope, _query(body)))


def update_endpoint(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    endpoint = endpoints.update_endpoint(
        plane, scope, body["EndpointName"], body["EndpointConfigName"]
    )
    return {"EndpointArn": endpoint.endpoint_arn}


def update_endpoint_weights_and_capacities(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    desired = [
        endpoints.DesiredWeightAndCapacity.model_validate(item)
        for item in body["DesiredWeightsAndCapacities"]
    ]
    endpoint = endpoints.update_endpoint_weights_and_capacities(
        plane, scope, body["EndpointName"], desired
    )
    return {"EndpointArn": endpoint.endpoint_arn}


def delete_endpoint(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    endpoints.delete_endpoint(plane, scope, body["EndpointName"])
    return {}


# Inference experiments


def create_inference_experiment(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = experiments.CreateInferenceExperimentInput.model_validate(body)
    experiment = experiments.create_inference_experiment(plane, scope, request)
    return {"InferenceExperimentArn": experiment.arn}


def describe_inference_experiment(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    view = experiments.describe_inference_experiment(plane, scope, body["Name"])
    return views.describe_inference_experiment(view)


def list_inference_experiments(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    page = experiments.list_inference_experiments(plane, scope, _query(body))
    return _page("InferenceExperiments", page)


def update_inference_experiment(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = experiments.UpdateInferenceExperimentInput.model_validate(body)
    experiment = experiments.update_inference_experiment(plane, scope, request)
    return {"InferenceExperimentArn": experiment.arn}


def start_inference_experiment(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    experiment = experiments.start_inference_experiment(plane, scope, body["Name"])
    return {"InferenceExperimentArn": experiment.arn}


def stop_inference_experiment(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = experiments.StopInferenceExperimentInput.model_validate(body)
    experiment = experiments.stop_inference_experiment(plane, scope, request)
    return {"InferenceExperimentArn": experiment.arn}


def delete_inference_experiment(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    experiment = experiments.delete_inference_experiment(plane, scope, body["Name"])
    return {"InferenceExperimentArn": experiment.arn}


# Tags


def add_tags(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    new_tags = [tags.Tag.model_validate(tag) for tag in body["Tags"]]
    added = tags.add_tags(plane, scope, body["ResourceArn"], new_tags)
    return {"Tags": [tag.model_dump() for tag in added]}


def list_tags(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    page = tags.list_tags(
        plane, scope, body["ResourceArn"], body.get("MaxResults"), body.get("NextToken")
    )
    return _page("Tags", page)


def delete_tags(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    tags.delete_tags(plane, scope, body["ResourceArn"], body["TagKeys"])
    return {}


# Model Monitor: SDKs list schedules and job definitions around endpoints (the SageMaker
# SDK's DataCaptureConfig and Predictor do); none exist here, so every list is empty.
_MODEL_MONITOR_LISTS = {
    "ListMonitoringSchedules": "MonitoringScheduleSummaries",
    "ListMonitoringExecutions": "MonitoringExecutionSummaries",
    "ListDataQualityJobDefinitions": "JobDefinitionSummaries",
    "ListModelQualityJobDefinitions": "JobDefinitionSummaries",
    "ListModelBiasJobDefinitions": "JobDefinitionSummaries",
    "ListModelExplainabilityJobDefinitions": "JobDefinitionSummaries",
    "ListMonitoringAlerts": "MonitoringAlertSummaries",
    "ListMonitoringAlertHistory": "MonitoringAlertHistory",
}


def _empty_list(key: str) -> Handler:
    def handler(_plane: ControlPlane, _scope: Scope, _body: Body) -> Body:
        return {key: []}

    return handler


OPERATIONS: dict[str, Handler] = {
    "CreateModel": create_model,
    "DescribeModel": describe_model,
    "ListModels": list_models,
    "DeleteModel": delete_model,
    "CreateEndpointConfig": create_endpoint_config,
    "DescribeEndpointConfig": describe_endpoint_config,
    "ListEndpointConfigs": list_endpoint_configs,
    "DeleteEndpointConfig": delete_endpoint_config,
    "CreateEndpoint": create_endpoint,
    "DescribeEndpoint": describe_endpoint,
    "ListEndpoints": list_endpoints,
    "UpdateEndpoint": update_endpoint,
    "UpdateEndpointWeightsAndCapacities": update_endpoint_weights_and_capacities,
    "DeleteEndpoint": delete_endpoint,
    "CreateInferenceExperiment": create_inference_experiment,
    "DescribeInferenceExperiment": describe_inference_experiment,
    "ListInferenceExperiments": list_inference_experiments,
    "UpdateInferenceExperiment": update_inference_experiment,
    "StartInferenceExperiment": start_inference_experiment,
    "StopInferenceExperiment": stop_inference_experiment,
    "DeleteInferenceExperiment": delete_inference_experiment,
    "AddTags": add_tags,
    "ListTags": list_tags,
    "DeleteTags": delete_tags,
}
OPERATIONS |= {operation: _empty_list(key) for operation, key in _MODEL_MONITOR_LISTS.items()}
