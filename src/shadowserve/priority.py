"""Lowering a child process's CPU priority: shadow workers and the shadow-call process give
the CPU to production on a shared machine (#16)."""

from __future__ import annotations

import contextlib
import os


def lower_priority(pid: int, niceness: int) -> None:
    """Raise a child's nice value by ``niceness`` (it runs its first instants at ours)."""
    with contextlib.suppress(OSError):  # gone already, or not permitted: our priority it is
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + niceness)
