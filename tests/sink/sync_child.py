"""A sync in its own process, so a test can SIGKILL it mid-way:
`python -m tests.sink.sync_child WAREHOUSE SANDBOX_URL LOCK_DIR [BULK_MAX_RECORDS]`
(with the last, creates go in bulk bodies of at most that many records)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from pipeline.sink import run_sync
from pipeline.warehouse import connect
from tests.sink.helpers import AS_OF, GP_FALL, district_config, quick_client


def main(warehouse: str, url: str, lock_dir: str, bulk_max_records: str = "") -> None:
    """Sync the fall partition of the test district against the sandbox at `url`."""
    sis = SimpleNamespace(url=url, token_url=f"{url}/oauth/token")
    bulk = {"bulk_writes": "on", "bulk_max_records": int(bulk_max_records)} \
        if bulk_max_records else {}
    config = district_config(sis, concurrency=2, **bulk)
    with quick_client(config) as client:
        run_sync(config, GP_FALL, client=client, connect=lambda: connect(Path(warehouse)),
                 as_of=AS_OF, lock_dir=Path(lock_dir), log=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main(*sys.argv[1:5])
