"""`make bench`: gateway overhead, shadow isolation and capture cost, beside nginx's mirror."""
