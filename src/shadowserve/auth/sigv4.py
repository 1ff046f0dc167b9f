"""Checking AWS Signature Version 4, in an Authorization header or a presigned query string.

The signature is recomputed with botocore's own signer from the parts the caller says it
signed, so we agree with every AWS SDK on canonicalisation, and compared in constant time.
Errors carry AWS's codes and texts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shadowserve.auth.credentials import AccessKey
from shadowserve.domain.errors import CodedError

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
DEFAULT_MAX_SKEW = timedelta(minutes=5)  # what AWS allows between the signer's clock and its own


class AuthError(CodedError):
    """The request's signature does not pass; the code is AWS's (each wire maps it)."""


def missing_token() -> AuthError:
    return AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")


def unrecognized_client() -> AuthError:
    return AuthError(
        "UnrecognizedClientException", "The security token included in the request is invalid."
    )


def signature_mismatch() -> AuthError:
    return AuthError(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.",
    )


@dataclass(frozen=True)
class IncomingRequest:
    """What the signature covers, exactly as received."""

    method: str
    raw_path: str  # percent-encoded, as on the request line
    query: str  # the raw query string
    headers: Sequence[tuple[str, str]]  # every header, names lower-case, repeats kept
    body: bytes


@dataclass(frozen=True)
class _Claim:
    """What the caller says it signed."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int | None  # presigned URLs only


def verify(
    request: IncomingRequest,
    keys: Mapping[str, AccessKey],
    now: datetime,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> AccessKey:
    """The key that signed the request, or AuthError saying why not."""
    claim = _claim(request)
    key = keys.get(claim.access_key_id)
    if key is None:
        raise unrecognized_client()
    _check_time(claim, now, max_skew)
    expected = _signature(request, claim, key)
    if not hmac.compare_digest(expected, claim.signature):
        raise signature_mismatch()
    declared = _header(request, "x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        raise signature_mismatch()  # the body is not the one that was signed
    return key


def _claim(request: IncomingRequest) -> _Claim:
    authorization = _header(request, "authorization")
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    if authorization is not None:
        return _header_claim(request, authorization)
    if "X-Amz-Signature" in query or "X-Amz-Algorithm" in query:
        return _query_claim(query)
    raise missing_token()


def _header_claim(request: IncomingRequest, authorization: str) -> _Claim:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthError(
            "IncompleteSignatureException",
            f"Authorization header requires '{ALGORITHM}' as its algorithm. "
            f"Authorization={authorization}",
        )
    parts = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value
    amz_date = _header(request, "x-amz-date")
    problems = [f"Authorization header requires '{name}' parameter."
                for name in ("Credential", "Signature", "SignedHeaders")
                if not parts.get(name)]  # fmt: skip
    if amz_date is None:
        problems.append("Authorization header requires existence of a 'X-Amz-Date' header.")
    if problems:
        raise AuthError(
            "IncompleteSignatureException", " ".join(problems) + f" Authorization={authorization}"
        )
    assert amz_date is not None
    return _make_claim(parts["Credential"], parts["SignedHeaders"], parts["Signature"],
                       amz_date, None)  # fmt: skip


def _query_claim(query: Mapping[str, str]) -> _Claim:
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders",
                "X-Amz-Signature")  # fmt: skip
    missing = [name for name in required if not query.get(name)]
    if missing:
        raise AuthError(
            "IncompleteSignatureException",
            "AWS query-string parameters must include " + ", ".join(f"'{m}'" for m in missing)
            + ". Re-examine the query-string parameters.",
        )  # fmt: skip
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthError("IncompleteSignatureException",
                        f"X-Amz-Algorithm only supports '{ALGORITHM}'.")  # fmt: skip
    expires = query.get("X-Amz-Expires")
    if expires is not None and not expires.isdigit():
        raise AuthError("IncompleteSignatureException",
                        "X-Amz-Expires must be a non-negative integer.")  # fmt: skip
    return _make_claim(query["X-Amz-Credential"], query["X-Amz-SignedHeaders"],
                       query["X-Amz-Signature"], query["X-Amz-Date"],
                       int(expires) if expires is not None else None)  # fmt: skip


def _make_claim(credential: str, signed_headers: str, signature: str, amz_date: str,
                expires: int | None) -> _Claim:  # fmt: skip
    pieces = credential.split("/")
    if len(pieces) != 5 or pieces[4] != "aws4_request":
        raise AuthError(
            "IncompleteSignatureException",
            f"Credential should be scoped to a valid region, not '{credential}'. Credential "
            "must be <access key>/<yyyymmdd>/<region>/<service>/aws4_request.",
        )
    access_key_id, scope_date, region, service, _ = pieces
    names = tuple(signed_headers.lower().split(";"))
    return _Claim(access_key_id, scope_date, region, service, names, signature, amz_date,
                  expires)  # fmt: skip


def _check_time(claim: _Claim, now: datetime, max_skew: timedelta) -> None:
    try:
        signed = datetime.strptime(claim.amz_date, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise AuthError("IncompleteSignatureException",
                        f"Date must be in ISO-8601 'basic format' (yyyyMMdd'T'HHmmss'Z'), "
                        f"not {claim.amz_date!r}.") from None  # fmt: skip
    stamp = now.strftime(AMZ_DATE)
    if claim.expires is not None:  # a presigned URL: valid from its date for its lifetime
        if now > signed + timedelta(seconds=claim.expires):
            earliest = (now - timedelta(seconds=claim.expires)).strftime(AMZ_DATE)
            raise AuthError("InvalidSignatureException",
                            f"Signature expired: {claim.amz_date} is now earlier than "
                            f"{earliest} ({stamp} - {claim.expires} sec.)")  # fmt: skip
        if signed > now + max_skew:
            raise _not_yet_current(claim, now, max_skew)
        return
    if signed < now - max_skew:
        minutes = int(max_skew.total_seconds() // 60)
        earliest = (now - max_skew).strftime(AMZ_DATE)
        raise AuthError("InvalidSignatureException",
                        f"Signature expired: {claim.amz_date} is now earlier than "
                        f"{earliest} ({stamp} - {minutes} min.)")  # fmt: skip
    if signed > now + max_skew:
        raise _not_yet_current(claim, now, max_skew)


def _not_yet_current(claim: _Claim, now: datetime, max_skew: timedelta) -> AuthError:
    minutes = int(max_skew.total_seconds() // 60)
    return AuthError("InvalidSignatureException",
                     f"Signature not yet current: {claim.amz_date} is still later than "
                     f"{(now + max_skew).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} + "
                     f"{minutes} min.)")  # fmt: skip


def _signature(request: IncomingRequest, claim: _Claim, key: AccessKey) -> str:
    """The signature botocore would compute for this request with this key."""
    query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in parse_qsl(request.query, keep_blank_values=True)
        if name != "X-Amz-Signature"
    )
    host = _header(request, "host") or "localhost"
    url = f"http://{host}{request.raw_path}" + (f"?{query}" if query else "")
    signed = AWSRequest(method=request.method, url=url, data=request.body)
    for name, value in request.headers:
        if name in claim.signed_headers:
            signed.headers[name] = value  # repeats are kept: botocore joins them with ","
    signed.context["timestamp"] = claim.amz_date
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key),
                       claim.service, claim.region)  # fmt: skip
    canonical = signer.canonical_request(signed)
    return str(signer.signature(signer.string_to_sign(signed, canonical), signed))


def _header(request: IncomingRequest, name: str) -> str | None:
    for header, value in request.headers:
        if header == name:
            return value
    return None
