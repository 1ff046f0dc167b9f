"""A work queue with leased claims, for Cloud Control requests: with several gateways on one
database each unfinished request is worked by one of them at a time (two workers without
claims created every resource twice). Requests unfinished at upgrade are queued."""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

UNFINISHED = {"PENDING", "IN_PROGRESS", "CANCEL_IN_PROGRESS"}


def upgrade() -> None:
    work = op.create_table(
        "work",
        sa.Column("queue", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("item_key", sa.String(128), primary_key=True),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False),
    )
    rows = op.get_bind().execute(
        sa.text("SELECT account, region, name_key, body FROM resources "
                "WHERE kind = 'cloudcontrol-request'")
    )  # fmt: skip
    queued = [
        {"queue": "cloudcontrol", "account": row.account, "region": row.region,
         "item_key": row.name_key, "claimed_by": "", "lease_until": 0.0}
        for row in rows if json.loads(row.body).get("OperationStatus") in UNFINISHED
    ]  # fmt: skip
    if queued:
        op.bulk_insert(work, queued)
