"""Attribution models of an account: the read-only presets and custom DSL models (raw.attribution_models).

One service for the API (`/api/v1/attribution_models`) and the dashboard:

    list_models(conn, account_id)                    presets first, then custom models by name
    get_model(conn, account_id, model_id)            a preset (by name) or a custom model (by amod_ id)
    validate_source(source) -> Validated             compile one DSL program (InvalidModel on errors)
    create_model(conn, account_id, source, is_active=True)
    update_model(conn, account_id, model_id, source=None, is_active=None)
    delete_model(conn, account_id, model_id)
    resolve_report_model(conn, account_id, name)     a model name as the credits store it, or None

Errors: `InvalidModel` (its `.errors` are `{line, column, message}`), `ModelNameTaken`,
`PresetReadOnly`, `ModelNotFound`. Every query is scoped by account; the caller owns the
transaction (the API's is scoped to the account by row-level security as well).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from attribution.models import DATA_DRIVEN, PRESET_DIR, list_presets
from dsl import DslError, check, compile_source
from mbuzz.ids import new_id

COLUMNS = "id, name, source, compiled, is_active, created_at, updated_at"


class ModelError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidModel(ModelError):
    """The DSL program cannot run; `errors` lists `{line, column, message}` (1-based)."""

    def __init__(self, message: str, errors: list[dict]) -> None:
        super().__init__(message)
        self.errors = errors


class ModelNameTaken(ModelError):
    pass


class PresetReadOnly(ModelError):
    pass


class ModelNotFound(ModelError):
    pass


@dataclass
class Model:
    id: str
    name: str
    source: str
    compiled: dict
    is_active: bool
    preset: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    warnings: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "preset": self.preset,
            "source": self.source,
            "compiled": self.compiled,
            "is_active": self.is_active,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Validated:
    name: str
    compiled: dict
    warnings: list[dict]


@lru_cache(maxsize=1)
def known_channels() -> tuple[str, ...]:
    """The channels the channel rules can produce (an unknown name in a model is a warning)."""
    from mbuzz.channels import load_rules

    return tuple(sorted({rule.channel for rule in load_rules().rules} | {"unassigned"}))


def _diagnostic(d) -> dict:
    return {"line": d.line, "column": d.column, "message": d.message}


def validate_source(source: str) -> Validated:
    """Compile one DSL program; raise InvalidModel listing every error with line and column."""
    try:
        compiled = compile_source(source, known_channels())
    except DslError as exc:
        errors = [_diagnostic(d) for d in exc.errors]
        first = errors[0] if errors else {"line": 1, "column": 1, "message": "invalid program"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidModel(
            f"invalid model at line {first['line']}, column {first['column']}: {first['message']}{more}", errors
        ) from None
    if len(compiled) != 1:
        found = len(compiled)
        raise InvalidModel(
            f'the program defines {found} models; define exactly one `model "Name" … end` block',
            [{"line": 1, "column": 1, "message": f"{found} models defined; one program holds exactly one model"}],
        )
    warnings = [_diagnostic(d) for d in check(source, known_channels()) if d.severity == "warning"]
    return Validated(compiled[0]["name"], compiled[0], warnings)


@lru_cache(maxsize=1)
def presets() -> dict[str, Model]:
    out = {}
    for name in list_presets():
        source = (PRESET_DIR / f"{name}.dsl").read_text()
        out[name] = Model(
            id=name, name=name, source=source, compiled=compile_source(source)[0], is_active=True, preset=True
        )
    return out


def _model(row) -> Model:
    model_id, name, source, compiled, is_active, created_at, updated_at = row
    return Model(model_id, name, source, compiled, is_active, False, created_at, updated_at)


def list_models(conn: psycopg.Connection, account_id: str) -> list[Model]:
    rows = conn.execute(
        f"select {COLUMNS} from raw.attribution_models where account_id = %s order by name, id", (account_id,)
    ).fetchall()
    return list(presets().values()) + [_model(r) for r in rows]


def get_model(conn: psycopg.Connection, account_id: str, model_id: str) -> Model:
    if model_id in presets():
        return presets()[model_id]
    row = conn.execute(
        f"select {COLUMNS} from raw.attribution_models where account_id = %s and id = %s", (account_id, model_id)
    ).fetchone()
    if row is None:
        raise ModelNotFound(f"no attribution model {model_id!r} in this account")
    return _model(row)


def _check_name(name: str) -> None:
    if name in presets() or name in DATA_DRIVEN:
        raise ModelNameTaken(f'"{name}" is the name of a built-in model; name yours differently')


def _taken(name: str) -> ModelNameTaken:
    return ModelNameTaken(f'this account already has a model named "{name}"')


def create_model(conn: psycopg.Connection, account_id: str, source: str, is_active: bool = True) -> Model:
    valid = validate_source(source)
    _check_name(valid.name)
    row = conn.execute(
        f"""
        insert into raw.attribution_models (id, account_id, name, source, compiled, is_active)
        values (%s, %s, %s, %s, %s, %s)
        on conflict (account_id, name) do nothing
        returning {COLUMNS}
        """,
        (new_id("amod"), account_id, valid.name, source, Jsonb(valid.compiled), is_active),
    ).fetchone()
    if row is None:
        raise _taken(valid.name)
    model = _model(row)
    model.warnings = valid.warnings
    return model


def update_model(
    conn: psycopg.Connection, account_id: str, model_id: str, source: str | None = None, is_active: bool | None = None
) -> Model:
    if model_id in presets():
        raise PresetReadOnly(
            f'"{model_id}" is a preset; presets are read-only. Create a custom model '
            "(POST /api/v1/attribution_models) from its source instead"
        )
    current = get_model(conn, account_id, model_id)
    valid = validate_source(source) if source is not None else None
    if valid is not None:
        _check_name(valid.name)
    try:
        with conn.transaction():  # a savepoint: a name clash must not abort the caller's transaction
            row = conn.execute(
                f"""
                update raw.attribution_models
                set name = %s, source = %s, compiled = %s, is_active = %s, updated_at = now()
                where account_id = %s and id = %s
                returning {COLUMNS}
                """,
                (
                    valid.name if valid else current.name,
                    source if valid else current.source,
                    Jsonb(valid.compiled if valid else current.compiled),
                    current.is_active if is_active is None else is_active,
                    account_id,
                    model_id,
                ),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _taken(valid.name if valid else current.name) from None
    if row is None:
        raise ModelNotFound(f"no attribution model {model_id!r} in this account")
    model = _model(row)
    model.warnings = valid.warnings if valid else []
    return model


def delete_model(conn: psycopg.Connection, account_id: str, model_id: str) -> None:
    if model_id in presets():
        raise PresetReadOnly(f'"{model_id}" is a preset; presets are read-only and cannot be deleted')
    deleted = conn.execute(
        "delete from raw.attribution_models where account_id = %s and id = %s returning id", (account_id, model_id)
    ).fetchone()
    if deleted is None:
        raise ModelNotFound(f"no attribution model {model_id!r} in this account")


def report_models(conn: psycopg.Connection, account_id: str) -> dict[str, str]:
    """{accepted name: name in the credits}: presets, data-driven models, custom ids and names."""
    names = {name: name for name in list(presets()) + list(DATA_DRIVEN)}
    for model_id, name in conn.execute(
        "select id, name from raw.attribution_models where account_id = %s order by name", (account_id,)
    ):
        names[model_id] = model_id
        names.setdefault(name, model_id)
    return names


def resolve_report_model(conn: psycopg.Connection, account_id: str, name: str) -> str | None:
    """The model name as attribution_credits stores it (custom models by id), or None if unknown."""
    return report_models(conn, account_id).get(name)
