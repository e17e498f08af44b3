"""What PostgreSQL cannot store in text or jsonb: NUL characters and unpaired UTF-16 surrogates.

A cheap scan of the raw body first (`body_may_hold_unstorable_text`); only when it
finds a suspect escape is the parsed value checked (`unstorable_text`). Batch
endpoints reject the offending items one by one; every other JSON body is
refused whole with 422 by `openapi.validate_request`.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SUSPECT = re.compile(rb"\\u0000|\\u[dD][89abAB]|\\u[dD][c-fC-F]")


def body_may_hold_unstorable_text(body: bytes) -> bool:
    """Cheap pre-check on the raw body: NUL characters or UTF-16 surrogate escapes present."""
    return b"\\u" in body and _SUSPECT.search(body) is not None  # most bodies have no \u escape at all


def unstorable_text(item: Any) -> str | None:
    """Why PostgreSQL would refuse this item's text (NUL, unpaired surrogate), or None."""
    if "\\u0000" in json.dumps(item):
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        json.dumps(item, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired UTF-16 surrogate, which cannot be stored"
    return None
