"""Tests of --runtime ray (``make test-ray``). Ray reads its mode when imported, so the
loopback-only settings go into this process's environment before any test imports it."""

import os

from tests.ray_cluster import LOOPBACK_ONLY

os.environ.update(LOOPBACK_ONLY)
