"""Comparing two models' outputs: parse each answer by its kind, compare field by field, and
aggregate what was seen into sums, counts and fixed-bin histograms that merge by addition.

Pure: no I/O, nothing from the rest of shadowserve.
"""
