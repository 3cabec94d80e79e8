"""Extract stage, two ways over the same sandbox: this project's client and dlt's `rest_api`.

Both read every OneRoster collection the pipeline reads (`ENDPOINTS`) and finish with the rows
in a DuckDB file, so rows per second compares like with like: network, parsing and load.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pipeline.config import DistrictConfig, OAuth2Auth, load_district_file, secret
from pipeline.oneroster import ENDPOINTS, OneRosterClient


def _config(params: dict[str, Any]) -> DistrictConfig:
    """The district file the harness aimed at the sandbox, with its secrets in the env."""
    os.environ.update(params["env"])
    return load_district_file(Path(params["mapping_file"]))


def extract_client(params: dict[str, Any]) -> dict[str, Any]:
    """Every collection through `OneRosterClient.extract`, written as the extract assets do."""
    from assets.extract.loading import write_table
    from pipeline.warehouse import connect, transaction

    config = _config(params)
    warehouse = Path(params["warehouse"])
    with connect(warehouse):
        pass  # the schema is created before the clock starts: both sides get an empty file
    rows = requests = 0
    started = time.perf_counter()
    with OneRosterClient(config, page_size=params["page_size"]) as client:
        for entity in ENDPOINTS:
            extract = client.extract(entity)
            with connect(warehouse) as conn, transaction(conn):
                write_table(conn, f"sis.{entity}", config.district, extract.rows,
                            ["sourced_id"], full=True, deleted=extract.deleted)
            # Records read, as dlt counts them: loaded, deleted and set aside alike.
            rows += extract.rows.num_rows + len(extract.deleted) + len(extract.quarantined)
            requests += extract.stats.requests
    seconds = time.perf_counter() - started
    return {"rows": rows, "requests": requests, "seconds": seconds,
            "rows_per_second": rows / seconds,
            "concurrency": config.sis.budget.max_concurrency, "page_size": params["page_size"]}


def _dlt_sources(config: DistrictConfig, page_size: int) -> list[Any]:
    """Two `rest_api` sources (rostering and gradebook services), one resource per endpoint.

    What a user would write from dlt's docs: OAuth 2 client credentials, the `Link: next`
    header paginator OneRoster servers send, the record list selected by its wrapper key.
    """
    from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
    from dlt.sources.rest_api import rest_api_source

    from pipeline.oneroster.auth import vendor_headers

    auth = config.sis.auth
    if not isinstance(auth, OAuth2Auth):
        raise ValueError("the dlt baseline is written for OAuth 2 client credentials")
    sources = []
    for service, base in (("rostering", config.sis.rostering_base),
                          ("gradebook", config.sis.gradebook_base)):
        client: dict[str, Any] = {
            "base_url": base + "/",
            "auth": OAuth2ClientCredentials(
                access_token_url=auth.token_url,
                client_id=secret(auth.client_id_env, purpose="client id"),
                client_secret=secret(auth.client_secret_env, purpose="client secret")),
            "paginator": {"type": "header_link"},
        }
        if service == "gradebook":
            client["headers"] = vendor_headers(config.sis)
        resources = [{"name": ep.entity, "endpoint": {
            "path": ep.path(config.sis.oneroster_version).lstrip("/"),
            "data_selector": ep.wrapper_key, "params": {"limit": page_size}}}
            for ep in ENDPOINTS.values() if ep.service == service]
        sources.append(rest_api_source(
            {"client": client, "resource_defaults": {"write_disposition": "replace"},
             "resources": resources}, name=f"oneroster_{service}"))
    return sources


def extract_dlt(params: dict[str, Any]) -> dict[str, Any]:
    """The same collections through dlt's `rest_api` source into a DuckDB file."""
    import dlt

    config = _config(params)
    scratch = Path(params["scratch"])
    pipeline = dlt.pipeline(pipeline_name="bench_oneroster", pipelines_dir=str(scratch / "dlt"),
                            destination=dlt.destinations.duckdb(str(params["warehouse"])),
                            dataset_name="sis", progress="log" if params.get("log") else None)
    sources = _dlt_sources(config, params["page_size"])
    started = time.perf_counter()
    pipeline.run(sources)
    seconds = time.perf_counter() - started
    # Top-level tables only: dlt also unnests lists (roles, terms) into child tables.
    with pipeline.sql_client() as sql:
        present = {row[0] for row in sql.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sis'")}
        rows = sum(sql.execute_sql(f"SELECT count(*) FROM {entity}")[0][0]
                   for entity in ENDPOINTS if entity in present)
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "concurrency": 1, "page_size": params["page_size"], "dlt_version": dlt.__version__}
