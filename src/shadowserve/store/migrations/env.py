"""Alembic's entry point: migrations run on the connection store/migrate.py hands over,
inside the transaction (and advisory lock) it already holds."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
