"""Model names → compiled models: presets (DSL files), DSL paths, data-driven models.

Presets live in attribution/presets/*.dsl and are compiled like any user file;
there is no preset code. A compiled preset is kept as JSON in a private cache folder
(`<tmp>/mbuzz-models-<uid>`, mode 0700, like Lark's own parser tables), keyed by the
preset's text and the DSL's source, so a run with a preset loads no parser. Data-driven
models are named `markov`, `markov:N` (order N, 1..4), `shapley`, `ordered_shapley` and
`algorithmic`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import dsl
from dsl import DslError, compile_source

PRESET_DIR = Path(__file__).parent / "presets"
DATA_DRIVEN = ("markov", "shapley", "ordered_shapley", "algorithmic")
MAX_MARKOV_ORDER = 4


class UnknownModel(ValueError):
    pass


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.dsl"))


def list_models() -> list[str]:
    return list_presets() + list(DATA_DRIVEN)


def _compile_one(text: str, where: str, pick: str | None) -> dict:
    models = compile_source(text)
    if pick is not None:
        for m in models:
            if m["name"] == pick:
                return m
        raise UnknownModel(f'{where} has no model "{pick}"; it has ' + ", ".join(f'"{m["name"]}"' for m in models))
    if len(models) > 1:
        raise UnknownModel(f'{where} defines {len(models)} models; pick one with {where}#"Model name"')
    return models[0]


def load_model(name_or_path: str | dict) -> dict:
    """A compiled model from a preset name, a .dsl path (optionally `path#Model name`),
    DSL source text, a data-driven model name or an already compiled dict."""
    if isinstance(name_or_path, dict):
        if "kind" not in name_or_path and "rules" in name_or_path:
            return {**name_or_path, "kind": "rules"}
        return name_or_path
    name = name_or_path.strip()
    head, _, arg = name.partition(":")
    if head in DATA_DRIVEN:
        spec = {"name": name, "kind": head}
        if head == "markov":
            try:
                order = int(arg or 1)
            except ValueError:
                raise UnknownModel(f"markov order must be a number: markov:2, got {name!r}") from None
            if not 1 <= order <= MAX_MARKOV_ORDER:
                raise UnknownModel(f"markov order must be 1 to {MAX_MARKOV_ORDER}, got {order}")
            spec["order"] = order
        elif arg:
            raise UnknownModel(f"{head} takes no option, got {name!r}")
        return spec
    if name in list_presets():
        return _preset(name)
    if name.startswith("model"):  # DSL source text
        return _compile_one(name, "the program", None)
    path_text, _, pick = name.partition("#")
    path = Path(path_text)
    if path.suffix == ".dsl" or path.is_file():
        if not path.is_file():
            raise UnknownModel(f"no such model file: {path}")
        return _compile_one(path.read_text(), str(path), pick.strip().strip('"') or None)
    raise UnknownModel(
        f"unknown model {name!r}: use a preset ({', '.join(list_presets())}), "
        f"{', '.join(DATA_DRIVEN)}, markov:N or a .dsl file"
    )


def _preset(name: str) -> dict:
    """A preset compiled, from the cache when it holds this text compiled by this DSL."""
    text = (PRESET_DIR / f"{name}.dsl").read_text()
    folder = _cache_folder()
    path = None
    if folder is not None:
        key = hashlib.sha256(text.encode() + _dsl_fingerprint()).hexdigest()[:32]
        path = folder / f"{name}-{key}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # not cached yet, or unreadable: compiled again
            pass
    spec = _compile_one(text, f"preset {name}", None)
    if path is not None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            tmp.write_text(json.dumps(spec))
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
    return spec


@lru_cache(maxsize=1)
def _dsl_fingerprint() -> bytes:
    """The DSL's source (its modules and grammar): a new DSL compiles the presets anew."""
    digest = hashlib.sha256()
    for source in sorted(Path(dsl.__file__).parent.glob("*.*")):
        if source.suffix in (".py", ".lark"):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.digest()


def _cache_folder() -> Path | None:
    """This user's private cache folder, or None (not creatable, someone else's or open to others)."""
    folder = Path(tempfile.gettempdir()) / f"mbuzz-models-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if not folder.is_dir() or folder.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder


__all__ = ["DslError", "UnknownModel", "list_models", "list_presets", "load_model"]
