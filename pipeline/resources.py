"""Dagster resources shared by every layer: the warehouse and the district configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipeline.config import DistrictConfig, load_districts, warehouse_path
from pipeline.warehouse import ensure_schema


class Warehouse(DuckDBResource):
    """dagster-duckdb's resource, with the warehouse's schemas created on first use and the
    file kept readable by its owner only (it holds student records)."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        old_umask = os.umask(0o077)
        try:
            with super().get_connection() as conn:
                os.umask(old_umask)
                ensure_schema(conn)
                yield conn
        finally:
            os.umask(old_umask)

    @classmethod
    def default(cls) -> Warehouse:
        """The warehouse at `PASSBACK_WAREHOUSE` or the git-ignored default path."""
        return cls(database=str(warehouse_path()))


class Districts(dg.ConfigurableResource):
    """The district files; `mappings_dir` overrides `PASSBACK_MAPPINGS_DIR` / `mappings/`."""

    mappings_dir: str | None = None

    def all(self) -> dict[str, DistrictConfig]:
        """Every configured district, validated."""
        return load_districts(Path(self.mappings_dir) if self.mappings_dir else None)

    def get(self, district: str) -> DistrictConfig:
        """One district's configuration; a clear error if it is not configured."""
        districts = self.all()
        if district not in districts:
            raise dg.Failure(
                f"district {district!r} is not configured; known: {sorted(districts)}",
                allow_retries=False,
            )
        return districts[district]
