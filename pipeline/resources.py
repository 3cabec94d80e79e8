"""Dagster resources shared by every layer: the warehouse and the district configuration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipeline.config import DistrictConfig, load_districts, warehouse_path
from pipeline.warehouse import open_duckdb, private_connection

LOCK_WAIT_S = 120.0  # another process (a rules run, a reader) holds the file for a moment


class Warehouse(DuckDBResource):
    """dagster-duckdb's resource, with the warehouse's schemas created on first use and the
    file kept readable by its owner only (it holds student records).

    An empty `database` means `PASSBACK_WAREHOUSE` (or the git-ignored default), read when a
    connection opens rather than when the code location loads, so the CLI, the UI and the
    tests always agree on the file.
    """

    database: str = Field(default="", description="DuckDB file; empty: $PASSBACK_WAREHOUSE "
                          "or .passback/warehouse.duckdb")

    def path(self) -> Path:
        """The DuckDB file this resource opens now."""
        return Path(self.database) if self.database else warehouse_path()

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        path = self.path()
        # Not dagster-duckdb's own open: it retries every IOException for ~100 s, a truncated
        # file too. This one waits out another process's lock only, and a damaged file fails.
        with private_connection(path, lambda: closing(open_duckdb(
                path, config=self.connection_config, lock_wait=LOCK_WAIT_S))) as conn:
            yield conn

    @classmethod
    def default(cls) -> Warehouse:
        """The warehouse at `PASSBACK_WAREHOUSE` or the default path, resolved per connection."""
        return cls()


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
