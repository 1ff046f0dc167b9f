"""Whether a request is in a sample: copied to the shadow, or captured."""

from __future__ import annotations

import hashlib
import random


def is_sampled(percentage: float, inference_id: str | None) -> bool:
    """A caller's InferenceId decides deterministically (the same ids are always in or out);
    otherwise each request is a fresh draw."""
    if percentage >= 100:
        return True
    if percentage <= 0:
        return False
    if inference_id is not None:
        digest = hashlib.sha256(inference_id.encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % 10_000
        return bucket < percentage * 100
    return random.random() * 100 < percentage
