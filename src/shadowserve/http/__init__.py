"""The ASGI application: routes requests to protocol adapters; no business logic."""
