"""Tests of `passback generate` (pipeline.generate)."""
