"""publishable keys: a kind per API key, its allowed origins, and the public value of a publishable key

`kind` is 'secret' (sk_…, full access, shown once) or 'publishable' (pk_…, may only send events
and conversions, from the origins in `allowed_origins`). Both are looked up by their SHA-256
digest; a publishable key is public by design (it sits in page source), so its plaintext is also
kept in `public_key` for the dashboard to show again. Secret keys keep `public_key` null.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_keys", sa.Column("kind", sa.String(length=11), server_default="secret", nullable=False), schema="raw"
    )
    op.add_column(
        "api_keys",
        sa.Column("allowed_origins", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        schema="raw",
    )
    op.add_column("api_keys", sa.Column("public_key", sa.Text(), nullable=True), schema="raw")
    op.create_check_constraint("kind", "api_keys", "kind in ('secret', 'publishable')", schema="raw")
    # a secret key's plaintext is never stored; a publishable key's always is
    op.create_check_constraint(
        "public_key_only_publishable", "api_keys", "(kind = 'publishable') = (public_key is not null)", schema="raw"
    )


def downgrade() -> None:
    op.drop_constraint("ck_api_keys_public_key_only_publishable", "api_keys", schema="raw")
    op.drop_constraint("ck_api_keys_kind", "api_keys", schema="raw")
    op.drop_column("api_keys", "public_key", schema="raw")
    op.drop_column("api_keys", "allowed_origins", schema="raw")
    op.drop_column("api_keys", "kind", schema="raw")
