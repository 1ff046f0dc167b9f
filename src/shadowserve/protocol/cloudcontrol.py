"""The Cloud Control API's operations (awsJson 1.0, target prefix CloudApiService)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shadowserve.cloudcontrol import service
from shadowserve.domain.arns import Scope
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import page_of

Body = dict[str, Any]
NAMESPACE = "com.amazonaws.cloudcontrol"  # awsJson 1.0 errors carry the full shape id


def create_resource(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = service.create_resource(
        plane, scope, body["TypeName"], body["DesiredState"], body.get("ClientToken")
    )
    return {"ProgressEvent": request.progress_event()}


def update_resource(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = service.update_resource(
        plane, scope, body["TypeName"], body["Identifier"], body["PatchDocument"],
        body.get("ClientToken"),
    )  # fmt: skip
    return {"ProgressEvent": request.progress_event()}


def delete_resource(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = service.delete_resource(
        plane, scope, body["TypeName"], body["Identifier"], body.get("ClientToken")
    )
    return {"ProgressEvent": request.progress_event()}


def get_resource(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    properties = service.get_resource(plane, scope, body["TypeName"], body["Identifier"])
    return {
        "TypeName": body["TypeName"],
        "ResourceDescription": {
            "Identifier": body["Identifier"],
            "Properties": json.dumps(properties),
        },
    }


def list_resources(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    key, page = service.list_resources(
        plane, scope, body["TypeName"], body.get("MaxResults"), body.get("NextToken")
    )
    return {
        "TypeName": body["TypeName"],
        "ResourceDescriptions": [
            {"Identifier": str(model.get(key, "")), "Properties": json.dumps(model)}
            for model in page.items
        ],
        "NextToken": page.next_token,
    }


def get_resource_request_status(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = service.get_request(plane, scope, body["RequestToken"])
    return {"ProgressEvent": request.progress_event()}


def list_resource_requests(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    wanted = body.get("ResourceRequestStatusFilter") or {}
    requests = service.list_requests(
        plane, scope, wanted.get("Operations"), wanted.get("OperationStatuses")
    )
    page = page_of(requests, body.get("MaxResults") or 20, body.get("NextToken"))
    return {
        "ResourceRequestStatusSummaries": [r.progress_event() for r in page.items],
        "NextToken": page.next_token,
    }


def cancel_resource_request(plane: ControlPlane, scope: Scope, body: Body) -> Body:
    request = service.cancel_request(plane, scope, body["RequestToken"])
    return {"ProgressEvent": request.progress_event()}


OPERATIONS: dict[str, Callable[[ControlPlane, Scope, Body], Body]] = {
    "CreateResource": create_resource,
    "UpdateResource": update_resource,
    "DeleteResource": delete_resource,
    "GetResource": get_resource,
    "ListResources": list_resources,
    "GetResourceRequestStatus": get_resource_request_status,
    "ListResourceRequests": list_resource_requests,
    "CancelResourceRequest": cancel_resource_request,
}
