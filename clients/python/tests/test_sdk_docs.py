"""The SDK's documentation holds: every public method, option and counter is documented, and links resolve."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from mbuzz_sdk import Client, Stats
from mbuzz_sdk.wsgi import TrackingMiddleware

SDK = Path(__file__).resolve().parents[1]
README = (SDK / "README.md").read_text()
GUIDE = SDK.parents[1] / "docs" / "api" / "sdk_python.md"


def test_every_method_is_documented_with_its_signature():
    for name in ("track", "page", "identify", "alias", "group", "conversion"):
        parameters = [p for p in inspect.signature(getattr(Client, name)).parameters if p != "self"]
        heading = next((line for line in README.splitlines() if line.startswith(f"### `{name}(")), None)
        assert heading is not None, f"README has no section for {name}()"
        assert [p for p in parameters if not re.search(rf"\b{p}\b", heading)] == [], heading
    for name in ("flush", "close", "stats"):
        assert f"`{name}" in README


@pytest.mark.parametrize("callable_", [Client.__init__, TrackingMiddleware.__init__])
def test_every_option_is_documented(callable_):
    options = [p for p in inspect.signature(callable_).parameters if p not in ("self", "app", "client")]
    assert [o for o in options if o not in README] == []


def test_every_counter_is_documented():
    assert [f for f in Stats.__dataclass_fields__ if f"| `{f}` |" not in README] == []


@pytest.mark.parametrize("document", [SDK / "README.md", GUIDE])
def test_links_resolve(document):
    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", document.read_text()):
        assert (document.parent / link).exists(), f"{document.name} links to missing {link}"
