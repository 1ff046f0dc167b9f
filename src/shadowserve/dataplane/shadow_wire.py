"""What the gateway and its shadow-call process say to each other over the child's stdin and
stdout: length-prefixed pickles of the two messages below. Both ends are this package at the
same version (the gateway starts the child), so pickle's coupling costs nothing."""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass

from shadowserve.dataplane.model_client import ModelAnswer, ModelCall

_LENGTH = struct.Struct("!I")


@dataclass(frozen=True)
class CallOrder:
    """Call the shadow: ``urls[0]`` first (the gateway's lease), the others if it refuses."""

    order_id: int
    urls: tuple[str, ...]
    call: ModelCall


@dataclass(frozen=True)
class CallResult:
    order_id: int
    answer: ModelAnswer
    unreached: tuple[str, ...]  # workers that refused or dropped the connection


def frame(message: CallOrder | CallResult) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> CallOrder | CallResult | None:
    """The next message, or None once the other end has closed."""
    try:
        head = await reader.readexactly(_LENGTH.size)
        (length,) = _LENGTH.unpack(head)
        message = pickle.loads(await reader.readexactly(length))
    except asyncio.IncompleteReadError:
        return None
    assert isinstance(message, CallOrder | CallResult)
    return message
