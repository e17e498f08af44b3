"""Compiled presets are cached (attribution.models): a run with a preset loads no DSL parser,
and the cache never changes what a preset compiles to."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from attribution import models
from attribution.models import PRESET_DIR, list_presets, load_model
from dsl import compile_source

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache_in(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / f"mbuzz-models-{os.getuid()}"


@pytest.mark.parametrize("name", list_presets())
def test_a_cached_preset_is_what_its_text_compiles_to(cache_in, name):
    [compiled] = compile_source((PRESET_DIR / f"{name}.dsl").read_text())
    cold = load_model(name)
    assert [p.name.split("-")[0] for p in cache_in.glob(f"{name}-*.json")] == [name]
    assert load_model(name) == cold == compiled  # the second from the cache


def test_a_broken_or_stale_cache_entry_is_compiled_again(cache_in, monkeypatch):
    compiled = compile_source((PRESET_DIR / "linear.dsl").read_text())[0]
    load_model("linear")
    [entry] = cache_in.glob("linear-*.json")
    entry.write_text("{not json")
    assert load_model("linear") == compiled  # and written again
    entry.write_text('{"name": "from the cache"}')
    assert load_model("linear") == {"name": "from the cache"}  # the entry is what a run reads
    # another DSL (its source changed): another key, so the old entry is never read
    monkeypatch.setattr(models, "_dsl_fingerprint", lambda: b"another DSL")
    assert load_model("linear") == compiled
    assert len(list(cache_in.glob("linear-*.json"))) == 2


def test_a_cache_folder_open_to_others_is_not_used(cache_in):
    cache_in.mkdir(mode=0o777)
    cache_in.chmod(0o777)
    assert load_model("u_shaped")["name"] == "u_shaped"
    assert list(cache_in.iterdir()) == []  # nothing written there, nothing read


def test_a_preset_run_of_the_command_does_not_load_the_parser(tmp_path):
    from attribution.synthetic import synthetic_touches

    src, out = tmp_path / "tp.parquet", tmp_path / "out.parquet"
    synthetic_touches(100, seed=1).to_parquet(src, index=False)
    code = (
        "import sys; from mbuzz.cli import main; sys.argv = ['mbuzz', 'attribute', '--model', 'time_decay', "
        f"'--touchpoints', {str(src)!r}, '--out', {str(out)!r}]\n"
        "try:\n    main()\nfinally:\n    print(sorted(m for m in ('lark', 'rich', 'pandas') if m in sys.modules))"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=os.environ)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert runs[1].stdout.strip() == "[]"  # the first run may have compiled the preset
