"""Reliability: faults, crashes, bad input, secrets and student data (docs/reliability.md)."""
