"""spend delivery: the ad platform's impressions and clicks beside each spend row

Nullable: a platform (or an upload) that reports none leaves them null, never 0, so a media-mix
export (`mbuzz export mmm`) can tell "not reported" from "none served". Same primary key and
upsert as before: uploading a day again replaces its amount, currency, impressions and clicks.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("impressions", "clicks"):
        op.add_column("ad_spend", sa.Column(column, sa.BigInteger(), nullable=True), schema="raw")
        op.create_check_constraint(f"{column}_not_negative", "ad_spend", f"{column} >= 0", schema="raw")


def downgrade() -> None:
    for column in ("impressions", "clicks"):
        op.drop_column("ad_spend", column, schema="raw")
