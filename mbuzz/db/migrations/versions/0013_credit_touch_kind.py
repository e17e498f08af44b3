"""credit touch kind: whether a credited touch was a visit or an impression (docs/impressions.md)

Not null with a server default of 'visit': every credit written before impressions existed was a
visit's, and writers that do not know the column keep writing visits. Self-contained: only
attribution.attribution_credits gains the column.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "attribution_credits",
        sa.Column("touch_kind", sa.Text(), nullable=False, server_default="visit"),
        schema="attribution",
    )
    op.create_check_constraint(
        "touch_kind", "attribution_credits", "touch_kind in ('visit', 'impression')", schema="attribution"
    )


def downgrade() -> None:
    op.drop_column("attribution_credits", "touch_kind", schema="attribution")
