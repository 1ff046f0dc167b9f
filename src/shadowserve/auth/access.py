"""Who may call, as the HTTP layer asks it: open (any or no credentials, one account) or
SigV4 against a credentials file (the account comes from the key)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shadowserve.auth.credentials import AccessKey
from shadowserve.auth.sigv4 import DEFAULT_MAX_SKEW, IncomingRequest, verify


class Access(Protocol):
    @property
    def requires_signature(self) -> bool:
        """False: every caller is the default account; requests need not be signed."""
        ...

    @property
    def default_account(self) -> str: ...

    def account(self, request: IncomingRequest) -> str:
        """The caller's account; raises AuthError when the request may not pass."""
        ...


@dataclass(frozen=True)
class OpenAccess:
    default_account: str
    requires_signature: bool = False

    def account(self, _request: IncomingRequest) -> str:
        return self.default_account


@dataclass(frozen=True)
class SigV4Access:
    keys: Mapping[str, AccessKey]
    default_account: str  # only for pages served to loopback (the dashboard)
    max_skew: timedelta = DEFAULT_MAX_SKEW
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    requires_signature: bool = True

    def account(self, request: IncomingRequest) -> str:
        return verify(request, self.keys, self.clock(), self.max_skew).account_id


def is_loopback(host: str) -> bool:
    """Whether a listen address or client address stays on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
