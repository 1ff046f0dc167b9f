"""Pure domain: resources, ARNs, the experiment state machine and errors. No I/O here."""
