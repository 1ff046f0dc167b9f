"""STS's GetCallerIdentity, which SDKs call to learn the account (the SageMaker Python SDK's
``Session.account_id()``, default bucket names). The caller is the account its key belongs
to (or the server's account without --auth sigv4), reported as that account's root."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shadowserve.domain.arns import Scope

Body = dict[str, Any]
VERSION = "2011-06-15"


def get_caller_identity(_context: object, scope: Scope, _body: Body) -> Body:
    return {
        "UserId": scope.account,
        "Account": scope.account,
        "Arn": f"arn:aws:iam::{scope.account}:root",
    }


OPERATIONS: dict[str, Callable[[object, Scope, Body], Body]] = {
    "GetCallerIdentity": get_caller_identity,
}
