"""Load a generated district into the raw tables (the loader lives with the generator, in
`tooling.generate.load`, so the benchmarks use it too)."""

from tooling.generate.load import load_generated

__all__ = ["load_generated"]
