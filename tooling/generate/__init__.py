"""`passback generate`: a synthetic district (Otus export, OneRoster roster, district file).

The public names are loaded lazily so that building the CLI parser does not import DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tooling.generate.district import GeneratedDistrict, generate_district

__all__ = ["GeneratedDistrict", "generate_district"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tooling.generate import district

        return getattr(district, name)
    raise AttributeError(f"module 'tooling.generate' has no attribute {name!r}")
