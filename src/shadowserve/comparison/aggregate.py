"""The output comparison of many pairs, as one mergeable aggregate.

Besides the per-field aggregates it counts, for every request whose outputs disagreed, the
exact set of fields that disagreed (its *signature*). Output agreement can then be computed
at report time for any set of excluded fields — the noise found so far, the pointers a user
ignores — without going back to the requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shadowserve.comparison.fields import (
    KINDS,
    BytesField,
    FieldAggregate,
    LabelField,
    ScoreField,
    TextField,
)
from shadowserve.comparison.outputs import ParsedOutput
from shadowserve.comparison.pairs import Observation, agrees, observe
from shadowserve.comparison.settings import CompareSettings

MAX_FIELDS = 64  # per aggregate; observations of further fields are counted, not kept
MAX_SIGNATURES = 256
UNTRACKED = "*untracked*"  # the signature of disagreements past MAX_SIGNATURES


@dataclass
class OutputAggregate:
    compared: int = 0  # pairs whose outputs were compared (both legs succeeded)
    probes: int = 0  # noise probes: the shadow answered the same request twice
    untracked_fields: int = 0  # observations of fields beyond MAX_FIELDS
    formats: dict[str, int] = field(default_factory=dict)  # "json/json" → pairs
    fields: dict[str, FieldAggregate] = field(default_factory=dict)  # field id → aggregate
    signatures: dict[str, int] = field(default_factory=dict)  # disagreeing field ids → requests

    def add_pair(
        self, production: ParsedOutput, shadow: ParsedOutput, settings: CompareSettings
    ) -> frozenset[str]:
        """Compare one pair; returns the ids of the fields that disagreed."""
        self.compared += 1
        formats = f"{production.format}/{shadow.format}"
        self.formats[formats] = self.formats.get(formats, 0) + 1
        disagreeing = set()
        for observation in observe(production, shadow, settings):
            if not self._add(observation, settings):
                disagreeing.add(observation.field_id)
        if disagreeing:
            key = json.dumps(sorted(disagreeing))
            if key not in self.signatures and len(self.signatures) >= MAX_SIGNATURES:
                key = UNTRACKED
            self.signatures[key] = self.signatures.get(key, 0) + 1
        return frozenset(disagreeing)

    def add_probe(
        self, first: ParsedOutput, second: ParsedOutput, settings: CompareSettings
    ) -> None:
        """Two answers of the shadow to one request: whatever differs between them is noise."""
        self.probes += 1
        for observation in observe(first, second, settings):
            kept = self._field(observation)
            if kept is not None:
                kept.probe(agrees(observation, settings))

    def agreeing(self, excluded: Callable[[str], bool]) -> int:
        """Pairs whose outputs agree on every field but the excluded ones."""
        disagreeing = 0
        for key, count in self.signatures.items():
            if key == UNTRACKED or not all(excluded(ident) for ident in json.loads(key)):
                disagreeing += count
        return self.compared - disagreeing

    def adopt_probes(self, other: OutputAggregate) -> None:
        """Take ``other``'s noise probes as this aggregate's own (a recompute from capture
        has no repeat answers: the noise learned live still applies)."""
        self.probes = other.probes
        for ident, source in other.fields.items():
            if source.probes:
                kept = self.fields.get(ident) or KINDS[source.kind]()
                self.fields[ident] = kept
                kept.probes, kept.probe_disagreements = source.probes, source.probe_disagreements

    def merge(self, other: OutputAggregate) -> None:
        self.compared += other.compared
        self.probes += other.probes
        self.untracked_fields += other.untracked_fields
        for key, count in other.formats.items():
            self.formats[key] = self.formats.get(key, 0) + count
        for key, count in other.signatures.items():
            self.signatures[key] = self.signatures.get(key, 0) + count
        for ident, aggregate in other.fields.items():
            mine = self.fields.get(ident)
            if mine is None:
                self.fields[ident] = FieldAggregate.from_json(aggregate.to_json())
            else:
                mine.merge(aggregate)

    def to_json(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "probes": self.probes,
            "untracked_fields": self.untracked_fields,
            "formats": self.formats,
            "fields": {ident: aggregate.to_json() for ident, aggregate in self.fields.items()},
            "signatures": self.signatures,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any] | None) -> OutputAggregate:
        body = body or {}
        return cls(
            compared=body.get("compared", 0),
            probes=body.get("probes", 0),
            untracked_fields=body.get("untracked_fields", 0),
            formats=dict(body.get("formats", {})),
            fields={
                ident: FieldAggregate.from_json(item)
                for ident, item in body.get("fields", {}).items()
            },
            signatures=dict(body.get("signatures", {})),
        )

    def _field(self, observation: Observation) -> FieldAggregate | None:
        ident = observation.field_id
        kept = self.fields.get(ident)
        if kept is None:
            if len(self.fields) >= MAX_FIELDS:
                self.untracked_fields += 1
                return None
            kept = self.fields[ident] = KINDS[observation.kind]()
            if isinstance(kept, LabelField):
                kept.derived = observation.derived
        return kept

    def _add(self, observation: Observation, settings: CompareSettings) -> bool:
        """Fold one observation in; returns whether the field agrees."""
        kept = self._field(observation)
        a, b = observation.production, observation.shadow
        if a is None or b is None:
            if kept is not None:
                kept.missing(in_shadow=b is None)
            return False
        if kept is None:
            return agrees(observation, settings)
        if isinstance(kept, ScoreField):
            return kept.add(a, b, settings.tolerance_for(observation.pointer))  # type: ignore[arg-type]
        if isinstance(kept, LabelField):
            return kept.add(a, b, a == b)  # type: ignore[arg-type]
        if isinstance(kept, TextField):
            return kept.add(a, b)  # type: ignore[arg-type]
        assert isinstance(kept, BytesField)
        return kept.add(a, b)  # type: ignore[arg-type]
