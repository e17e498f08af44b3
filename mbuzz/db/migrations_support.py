"""What Alembic compares: only the schemas mbuzz owns (dbt owns the rest).

One index differs by path on purpose: raw.events' `(account_id, event_id)` index
is unique on plain PostgreSQL (migration 0005) and not where raw.events is a
TimescaleDB hypertable. The models declare the hypertable form; autogenerate
skips that index so it never proposes to "fix" either path.
"""

OWNED_SCHEMAS = ("raw", "attribution")
EVENTS_KEY_INDEX = "ix_events_account_id_event_id"  # raw.events (account_id, event_id)
PATH_DEPENDENT_INDEXES = frozenset({EVENTS_KEY_INDEX})


def include_name(name, type_, parent_names) -> bool:
    if type_ == "schema":
        return name in OWNED_SCHEMAS
    return True


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in PATH_DEPENDENT_INDEXES)
