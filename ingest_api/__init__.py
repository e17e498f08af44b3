"""The ingestion API: a Flask app factory, one blueprint per resource, everything under /api/v1.

    create_app(test_config=None) → Flask app

Configuration: `config.DEFAULTS`, then MBUZZ_* environment variables (JSON
values), then `test_config`. The database is `mbuzz.db.database_url()`
(DATABASE_URL or the embedded server, whose address is re-read from
`.mbuzz/server.json` when a connection fails) unless `DATABASE_URL` is in the config.

Adding a resource: document its operations in docs/api/openapi.yml first,
then write a module with `bp = Blueprint(name, __name__, url_prefix="/api/v1")`
whose views are decorated with `@authenticated()` (from `ingest_api.auth`) and
register it here. `@authenticated()` gives each view, in one transaction
committed before the response leaves: the key checked (`g.principal`: account
id, name, tier, environment, key id), the account's rate limit counted (headers
added), the request validated against the document (parameters, security and
JSON body → 400/401/413/415/422), and `g.db`, a psycopg connection running as
`mbuzz_api` under row-level security for that account. Raise
`errors.ApiError(message, status=…)` or `errors.NotFoundError(resource, id)`
(also for another account's rows: existence is not revealed); read the body
with `openapi.parse_json_body()`; unauthenticated views use `db.transaction()`.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from ingest_api import (
    attribution_models,
    conversions,
    cors,
    dashboard,
    db,
    docs,
    errors,
    events,
    fx,
    guides,
    health,
    limits,
    openapi,
    redaction,
    reports,
    segment,
    spend,
    tracker,
    validate,
)
from ingest_api import config as default_config


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)  # ingest_api/static/ is served by `tracker` only
    app.config.from_mapping(default_config.DEFAULTS)
    app.config.from_prefixed_env("MBUZZ")
    if test_config:
        app.config.from_mapping(test_config)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.json.sort_keys = False

    redaction.install(app.logger)
    errors.init_app(app)
    url, resolve = app.config.get("DATABASE_URL"), None
    if not url:
        from mbuzz.db import database_url
        from mbuzz.settings import get_settings

        url = database_url(start=False)  # an app never starts a database: the CLI did
        if get_settings().embedded:  # follow the embedded server if it moves to another port
            resolve = lambda: database_url(start=False)  # noqa: E731
    db.init_app(app, url, resolve)
    openapi.init_app(app)
    limits.init_app(app)

    app.register_blueprint(health.bp)
    app.register_blueprint(validate.bp)
    app.register_blueprint(docs.bp)
    events.init_app(app)
    segment.init_app(app)
    conversions.init_app(app)
    attribution_models.init_app(app)
    reports.init_app(app)
    spend.init_app(app)
    fx.init_app(app)
    dashboard.init_app(app)
    tracker.init_app(app)
    guides.init_app(app)
    cors.init_app(app)
    return app
