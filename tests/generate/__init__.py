"""Tests of `passback generate` (tooling.generate)."""
