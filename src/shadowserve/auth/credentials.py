"""The keys shadowserve accepts, from a file in AWS's shared-credentials format.

Each section is one key::

    [team-a]
    aws_access_key_id = AKIAEXAMPLEA
    aws_secret_access_key = ...
    aws_account_id = 111111111111

The account is what the key sees: resources live per account, so two keys of different
accounts see different resources.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

_ACCOUNT = re.compile(r"^\d{12}$")
_REQUIRED = ("aws_access_key_id", "aws_secret_access_key", "aws_account_id")


class CredentialsFileError(ValueError):
    """The file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account_id: str


def load_keys(path: Path) -> dict[str, AccessKey]:
    """Every key in the file, by access key id."""
    parser = configparser.ConfigParser(interpolation=None, default_section="__none__")
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise CredentialsFileError(f"{path}: {exc}") from exc
    keys: dict[str, AccessKey] = {}
    for section in parser.sections():
        values = parser[section]
        missing = [name for name in _REQUIRED if not values.get(name, "").strip()]
        if missing:
            raise CredentialsFileError(f"{path} [{section}]: missing {', '.join(missing)}")
        key = AccessKey(
            access_key_id=values["aws_access_key_id"].strip(),
            secret_access_key=values["aws_secret_access_key"].strip(),
            account_id=values["aws_account_id"].strip(),
        )
        if not _ACCOUNT.match(key.account_id):
            raise CredentialsFileError(
                f"{path} [{section}]: aws_account_id must be 12 digits, not {key.account_id!r}"
            )
        if key.access_key_id in keys:
            raise CredentialsFileError(f"{path} [{section}]: {key.access_key_id} appears twice")
        keys[key.access_key_id] = key
    if not keys:
        raise CredentialsFileError(f"{path}: no keys (a section per key is expected)")
    return keys
