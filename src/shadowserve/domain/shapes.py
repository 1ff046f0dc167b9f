"""The base class of every stored resource shape.

Fields are snake_case in code and PascalCase on the wire and in the store: the alias
generator is the one place that knows AWS spells things differently. Members we do not
interpret (VpcConfig, ExplainerConfig, …) are kept as extras so they round-trip unchanged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_pascal


class Shape(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_pascal,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        protected_namespaces=(),
    )
