"""Passback's tooling, apart from production: the sandbox SIS, the synthetic district
generator, the demo and the benchmarks (`passback sandbox | generate | demo | bench`).

Installed with the `tooling` extra. `pipeline`, `assets` and `checks` never import it.
"""
