"""Fixtures of the warehouse tests (helpers and the dataset live in tests/dbt/dataset.py)."""

from __future__ import annotations

import secrets

import pytest


@pytest.fixture(scope="session")
def fixture_account() -> str:
    """The account the fixture dataset is loaded under (tests isolate by tenant)."""
    return f"acct_dbt{secrets.token_hex(4)}"
