"""Gateways sharing one database: who is here, and what a cluster needs."""
