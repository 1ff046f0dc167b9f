"""The ``shadowserve`` command line."""
