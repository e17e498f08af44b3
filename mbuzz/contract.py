"""Facts of the API contract (docs/api/openapi.yml) that code outside the API checks against.

The OpenAPI document is the one home of what the API accepts; the pipeline's data-quality
suites (orchestration/quality.py) take their rules from it through these functions rather than
writing them again.
"""

from __future__ import annotations

from functools import lru_cache

import yaml

from mbuzz.paths import OPENAPI_PATH


@lru_cache(maxsize=1)
def _schemas() -> dict:
    document = yaml.load(OPENAPI_PATH.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return document["components"]["schemas"]


def schema(name: str) -> dict:
    """A component schema of the OpenAPI document, e.g. `schema("Event")`."""
    return _schemas()[name]


def event_type_rule() -> tuple[str, int]:
    """(pattern, max length) of `Event.event_type`: what an accepted event's type looks like."""
    field = schema("Event")["properties"]["event_type"]
    return field["pattern"], int(field["maxLength"])
