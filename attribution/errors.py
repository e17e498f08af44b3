"""Errors the data-driven models raise instead of printing noise."""

from __future__ import annotations

# Below this many paths (converting + non-converting) a data-driven model refuses
# to run: transition, coalition and regression estimates from fewer paths are
# dominated by noise. Tests pass a smaller min_paths for hand-computed cases.
MIN_PATHS = 100


class InsufficientDataError(ValueError):
    """Not enough (or not the right) paths for a data-driven model to mean anything."""


def require_paths(model: str, n_paths: int, min_paths: int) -> None:
    if n_paths < min_paths:
        raise InsufficientDataError(
            f"{model} needs at least {min_paths} paths (converting and non-converting) to give "
            f"meaningful credit, got {n_paths}; use a rule-based model such as linear, or "
            "export a longer period"
        )
