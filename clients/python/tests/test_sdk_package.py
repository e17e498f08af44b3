"""The SDK as a distribution: the standard library only, Python 3.9 syntax, and documentation
that covers every public method, option and counter, with links that resolve."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mbuzz_sdk import Client, Stats
from mbuzz_sdk.wsgi import TrackingMiddleware

SDK = Path(__file__).resolve().parents[1]
README = (SDK / "README.md").read_text()
GUIDE = SDK.parents[1] / "docs" / "api" / "sdk_python.md"


def test_it_needs_nothing_but_the_standard_library():
    # -I -S: no site-packages at all (no Flask, no requests), only the SDK's own directory
    code = "import sys; sys.path.insert(0, sys.argv[1]); import mbuzz_sdk, mbuzz_sdk.wsgi; print(mbuzz_sdk.__version__)"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(SDK)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == re.search(r'^version = "(.+)"$', (SDK / "pyproject.toml").read_text(), re.M)[1]


@pytest.mark.parametrize("module", sorted((SDK / "mbuzz_sdk").glob("*.py")), ids=lambda path: path.name)
def test_the_syntax_is_that_of_the_oldest_supported_python(module):
    assert 'requires-python = ">=3.9"' in (SDK / "pyproject.toml").read_text()
    ast.parse(module.read_text(), feature_version=(3, 9))


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
