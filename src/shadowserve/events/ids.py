"""Identifiers for the request path: inference ids and capture event ids.

``uuid.uuid4()`` reads the kernel's random source, a system call that releases the GIL;
under load the event loop then waits for the consumer threads to hand it back. These ids
need to be unique, not unguessable, so they come from ``random`` (no system call), in
UUID version 4 form as SageMaker's are.
"""

from __future__ import annotations

import random

_bits = random.SystemRandom().getrandbits(64)  # seeds differ between processes and restarts
_random = random.Random(_bits)


def random_uuid() -> str:
    value = _random.getrandbits(128)
    text = f"{value:032x}"
    variant = "89ab"[int(text[16], 16) & 3]
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"
