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


def text_rule(schema_name: str, field: str) -> tuple[str, int]:
    """(pattern, max length) of a text field of a component schema."""
    spec = schema(schema_name)["properties"][field]
    return spec["pattern"], int(spec["maxLength"])


def event_type_rule() -> tuple[str, int]:
    """(pattern, max length) of `Event.event_type`: what an accepted event's type looks like."""
    return text_rule("Event", "event_type")


def conversion_type_rule() -> tuple[str, int]:
    """(pattern, max length) of `ConversionRequest.conversion_type`, which the offline conversion
    uploads (mbuzz/offline_conversions.py) check as well."""
    return text_rule("ConversionRequest", "conversion_type")
