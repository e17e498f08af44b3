"""What Alembic compares: only the schemas mbuzz owns (dbt owns the rest)."""

OWNED_SCHEMAS = ("raw", "attribution")


def include_name(name, type_, parent_names) -> bool:
    if type_ == "schema":
        return name in OWNED_SCHEMAS
    return True
