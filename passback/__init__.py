"""Passback's face: the Dagster code location (`passback.definitions`) and the `passback`
command line. It stands on top of the house: it assembles `assets/` and `checks/`, which stand
on the `pipeline/` infrastructure; nothing below imports it."""
