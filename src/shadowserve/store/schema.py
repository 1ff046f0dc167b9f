"""The database's tables as the code reads and writes them: the shape after the newest
migration in migrations/versions (the migrations, not this file, create and change them)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

resources = Table(
    "resources",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name_key", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("arn", String(256), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
    # Keeps ListTags in the order tags were added.
    Column("position", Integer, nullable=False),
)

aggregates = Table(
    "aggregates",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("endpoint", String(64), primary_key=True),
    Column("variant", String(64), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("experiment", String(128), primary_key=True),
    Column("start", Integer, primary_key=True),
    # The gateway that wrote the row: each gateway adds only to its own rows, so gateways
    # sharing a database never overwrite each other's counts; readers sum the writers.
    Column("writer", String(128), primary_key=True),
    Column("body", Text, nullable=False),
)

# Work items claimed with a lease (Cloud Control requests): one row per unfinished item.
work = Table(
    "work",
    metadata,
    Column("queue", String(32), primary_key=True),
    Column("account", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("item_key", String(128), primary_key=True),
    Column("claimed_by", String(128), nullable=False, default=""),
    Column("lease_until", Float, nullable=False, default=0.0),
)
