"""Helpers of the API tests (a module of its own: `conftest` names clash across test folders)."""

from __future__ import annotations

from ingest_helpers import contract_client_class

TIERS = {"standard": "1000/second", "tiny": "3/minute", "default": "1000/second"}


ContractClient = contract_client_class()
