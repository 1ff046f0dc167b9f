"""Invocation events, the bus that carries them, and the consumer base their readers share
(capture, metrics, the event log); below the data plane, which only publishes them."""
