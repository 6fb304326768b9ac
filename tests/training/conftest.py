"""Training tests run on one thread (the machine is shared) and restore the setting afterwards."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _single_threaded(one_thread):
    """Every module here runs on one torch thread (``one_thread`` of tests/conftest.py)."""
