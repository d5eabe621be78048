"""Temporal workflow code: the case workflow (`case`), its public models (`models`), the pure
rules behind its Update validators (`rules`) and its search attributes (`attributes`)."""
