"""AWS wire protocols: bytes in, typed requests to the services, bytes out."""
