"""offline conversions: a conversion's external id and hashed email

`POST /api/v1/conversions/batch` and `mbuzz conversions import` record conversions from a CRM
or a store: each row has the source's own id (`external_id`, the idempotency key: imported
again it is a duplicate) and may name its person by the SHA-256 of their e-mail address
(64 lowercase hex, the convention of ad platforms' offline uploads; the plain address is never
stored). Both nullable: conversions from `POST /api/v1/conversions` have neither.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversions", sa.Column("external_id", sa.Text(), nullable=True), schema="raw")
    op.add_column("conversions", sa.Column("email_sha256", sa.String(64), nullable=True), schema="raw")
    op.create_check_constraint(
        op.f("ck_conversions_email_sha256_hex"), "conversions", "email_sha256 ~ '^[0-9a-f]{64}$'", schema="raw"
    )


def downgrade() -> None:
    for column in ("email_sha256", "external_id"):
        op.drop_column("conversions", column, schema="raw")
