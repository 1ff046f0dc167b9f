"""AddTags, ListTags, DeleteTags on any resource ARN, and tags given at creation."""

from __future__ import annotations

from typing import TypeVar

from shadowserve.comparison.settings import SettingsError, check_tags
from shadowserve.domain.arns import Scope, parse_arn
from shadowserve.domain.errors import InvalidInput, ResourceInUse, ResourceLimitExceeded
from shadowserve.domain.redaction import REDACT_TAG, RedactionError, redacted_keys
from shadowserve.domain.shapes import Shape
from shadowserve.services.context import ControlPlane
from shadowserve.services.listing import Page, page_of
from shadowserve.services.repository import KINDS, Repository
from shadowserve.store.base import DuplicateKeyError

MAX_TAGS = 50
T = TypeVar("T", bound=Shape)


class Tag(Shape):
    key: str
    value: str = ""


def create_with_tags(
    repo: Repository, resource: T, kind_label: str, arn: str, tags: list[Tag] | None
) -> T:
    """Insert a new resource and its tags; a taken name is ResourceInUse."""
    try:
        repo.add(resource)
    except DuplicateKeyError as exc:
        raise ResourceInUse(
            f'Cannot create already existing {kind_label.lower()} "{arn}".'
        ) from exc
    if tags:
        _check_limit(repo, arn, tags)
        _check_settings(tags)
        repo.tx.put_tags(arn, [(tag.key, tag.value) for tag in tags])
    return resource


def add_tags(plane: ControlPlane, scope: Scope, arn: str, tags: list[Tag]) -> list[Tag]:
    def work(repo: Repository) -> list[Tag]:
        _check_exists(repo, arn)
        _check_limit(repo, arn, tags)
        _check_settings(tags)
        repo.tx.put_tags(arn, [(tag.key, tag.value) for tag in tags])
        return tags

    return plane.write(scope, work)


def list_tags(
    plane: ControlPlane, scope: Scope, arn: str, max_results: int | None, next_token: str | None
) -> Page[Tag]:
    def work(repo: Repository) -> list[Tag]:
        _check_exists(repo, arn)
        return [Tag(key=key, value=value) for key, value in repo.tx.tags(arn)]

    with plane.repository(scope) as repo:
        tags = work(repo)
    return page_of(tags, max_results or MAX_TAGS, next_token)


def delete_tags(plane: ControlPlane, scope: Scope, arn: str, keys: list[str]) -> None:
    def work(repo: Repository) -> None:
        _check_exists(repo, arn)
        repo.tx.delete_tags(arn, keys)

    plane.write(scope, work)


def _check_limit(repo: Repository, arn: str, tags: list[Tag]) -> None:
    keys = {key for key, _ in repo.tx.tags(arn)} | {tag.key for tag in tags}
    if len(keys) > MAX_TAGS:
        raise ResourceLimitExceeded(
            f"A resource can have at most {MAX_TAGS} tags; this request would give {arn} "
            f"{len(keys)}."
        )


def _check_settings(tags: list[Tag]) -> None:
    """shadowserve's own tags (comparison settings, redaction) must parse, so a typo fails
    where it is made rather than in a report, or a shadow's log, later."""
    values = {tag.key: tag.value for tag in tags}
    try:
        check_tags(values)
        if REDACT_TAG in values:
            redacted_keys(values[REDACT_TAG])
    except (SettingsError, RedactionError) as exc:
        raise InvalidInput(str(exc)) from exc


def _check_exists(repo: Repository, arn: str) -> None:
    parsed = parse_arn(arn)
    if parsed is None or parsed.scope != repo.scope:
        raise InvalidInput(f"Resource {arn} does not exist.")
    cls = next(cls for cls, kind in KINDS.items() if kind == parsed.kind)
    if repo.find(cls, parsed.name_key) is None:
        raise InvalidInput(f"Resource {arn} does not exist.")
