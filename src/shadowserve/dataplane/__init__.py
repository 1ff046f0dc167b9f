"""The request path: routing snapshot, InvokeEndpoint, shadow mirroring, invocation events."""
