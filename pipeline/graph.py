"""The graph's names, in one place: asset keys, groups, partitions, the grading period behind
each partition key, job names, run tags and the run config the CLI and schedules send.

Assets, checks, the sensor and the CLI import these names from here, never from one another,
so a renamed asset or job changes one line and no layer reaches sideways into another.
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from collections.abc import Iterable
from datetime import date
from typing import Any

import dagster as dg
import duckdb

from pipeline.config import load_districts
from pipeline.oneroster import ENDPOINTS

# -- Asset keys and groups ---------------------------------------------------------------


def otus_key(table: str) -> dg.AssetKey:
    """The key of a raw Otus table asset (`otus/<table>`)."""
    return dg.AssetKey(["otus", table])


def sis_key(entity: str) -> dg.AssetKey:
    """The key of a raw SIS collection asset (`sis/<entity>`)."""
    return dg.AssetKey(["sis", entity])


ACADEMIC_SESSIONS = sis_key("academic_sessions")
LINE_ITEMS = dg.AssetKey(["passback", "line_items"])
RESULTS = dg.AssetKey(["passback", "results"])
REJECTIONS = dg.AssetKey(["passback", "rejections"])
QUALITY_REPORT = dg.AssetKey(["passback", "quality_report"])
SIS_SYNC = dg.AssetKey(["passback", "sis_sync"])
SIS_GRADEBOOK = dg.AssetKey(["sis_gradebook"])  # the SIS itself: the sink's target

OTUS_GROUP = "otus_extract"
SIS_GROUP = "sis_extract"
RULES_GROUP = "passback_rules"
SINK_GROUP = "sink"
TARGET_GROUP = "sis"  # outside Dagster: drawn, never run
EXTRACT_GROUPS = (OTUS_GROUP, SIS_GROUP)
PASSBACK_GROUPS = (RULES_GROUP, SINK_GROUP)
# The rules multi-asset's op: one op writes line items, results and rejections together.
RULES_OP = "passback_rules"

# -- Partitions ----------------------------------------------------------------------------

DISTRICT = "district"
GRADING_PERIODS = "grading_period"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def district_keys() -> list[str]:
    """District ids from the mappings folder (read when the code location loads)."""
    return sorted(load_districts())


district_partitions = dg.StaticPartitionsDefinition(district_keys())
grading_period_partitions = dg.DynamicPartitionsDefinition(name=GRADING_PERIODS)
district_grading_period_partitions = dg.MultiPartitionsDefinition(
    {DISTRICT: district_partitions, GRADING_PERIODS: grading_period_partitions}
)


def grading_period_key(sourced_id: str) -> str:
    """A partition key for a grading period sourcedId, safe in the UI and CLI (no `|` or `,`)."""
    return _UNSAFE.sub("_", sourced_id).strip("_") or "_"


def passback_partition(district: str, grading_period_key: str) -> dg.MultiPartitionKey:
    """The partition key of one district and grading period."""
    return dg.MultiPartitionKey({DISTRICT: district, GRADING_PERIODS: grading_period_key})


def by_district(key: dg.AssetKey) -> dg.AssetDep:
    """A dependency of a (district, grading period) asset on a district-partitioned one:
    every grading period of a district reads the same district partition."""
    # The mapping is beta in Dagster 1.13 and the one that fits; chosen knowingly, so it
    # does not warn on every load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        mapping = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=DISTRICT)
    return dg.AssetDep(key, partition_mapping=mapping)


def partition_dimensions(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """(district, grading_period_key) of a passback asset's partition."""
    keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    return keys[DISTRICT], keys[GRADING_PERIODS]


def district_of(partition_key: str) -> str:
    """The district of a passback partition key ("<district>|<grading period>")."""
    # Dimensions are joined in name order, and "district" sorts before "grading_period".
    return partition_key.split("|", 1)[0]


# -- The stored partition key <-> grading period mapping ----------------------------------

_GRADING_PERIOD_IDS_SQL = """
SELECT sourced_id FROM sis.academic_sessions
WHERE district = ? AND type = 'gradingPeriod' ORDER BY sourced_id
"""


def store_grading_period_keys(conn: duckdb.DuckDBPyConnection,
                              district: str) -> dict[str, list[str]]:
    """Replace the district's rows of passback.grading_period_partitions from
    sis.academic_sessions; call in the transaction that loaded the sessions.

    Returns the partition keys that more than one grading period sanitises to (normally
    none): both are stored, and looking such a key up fails, naming them.
    """
    rows = conn.execute(_GRADING_PERIOD_IDS_SQL, [district]).fetchall()
    keyed = [(district, grading_period_key(sourced_id), sourced_id) for (sourced_id,) in rows]
    conn.execute("DELETE FROM passback.grading_period_partitions WHERE district = ?", [district])
    if keyed:
        conn.executemany("INSERT INTO passback.grading_period_partitions "
                         "(district, partition_key, grading_period_sourced_id) VALUES (?, ?, ?)",
                         keyed)
    by_key: dict[str, list[str]] = {}
    for _district, key, sourced_id in keyed:
        by_key.setdefault(key, []).append(sourced_id)
    return {key: ids for key, ids in by_key.items() if len(ids) > 1}


def grading_period_for_key(conn: duckdb.DuckDBPyConnection, district: str,
                           grading_period_key: str) -> str:
    """The grading period sourcedId stored for a district's partition key.

    Fails (no retries: a retry reads the same rows) when the key is unknown or names two
    grading periods.
    """
    rows = conn.execute(
        "SELECT grading_period_sourced_id FROM passback.grading_period_partitions "
        "WHERE district = ? AND partition_key = ? ORDER BY grading_period_sourced_id",
        [district, grading_period_key]).fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if not rows:
        raise dg.Failure(
            f"grading period partition {grading_period_key!r} of district {district} is not "
            "in passback.grading_period_partitions: the district's last SIS academic-sessions "
            "extract has no grading period with that key (run the district's extract)",
            allow_retries=False)
    raise dg.Failure(
        f"grading period partition {grading_period_key!r} of district {district} names "
        f"{len(rows)} grading periods ({', '.join(r[0] for r in rows)}): their sourcedIds "
        "sanitise to the same partition key", allow_retries=False)


# -- Jobs and run tags ---------------------------------------------------------------------

EXTRACT_JOB = "extract"
PASSBACK_JOB = "passback"
SIS_SYNC_JOB = "sis_sync_job"
SIS_FULL_REFRESH_JOB = "sis_full_refresh"

TRIGGER_TAG = "passback/trigger"  # "nightly" or "manual"; the sensor fans out nightly runs
SIS_WRITER_TAG = "passback/sis_writer"
PID_TAG = "passback/pid"
HOST_TAG = "passback/host"
# "true" on runs whose sink only plans: dry runs stand out in the run list.
DRY_RUN_TAG = "passback/dry_run"


# "closed" or "open": the grading period's state on the run's as-of date, so a closed period's
# run (report only, nothing written) stands out in the run list; partition keys carry no labels.
GRADING_PERIOD_TAG = "passback/grading_period"


def grading_period_tags(closed: bool) -> dict[str, str]:
    """The grading-period-state tag of a passback run."""
    return {GRADING_PERIOD_TAG: "closed" if closed else "open"}


def dry_run_tags(dry_run: bool) -> dict[str, str]:
    """The dry-run tag of a run whose sink only plans (none for a run that sends)."""
    return {DRY_RUN_TAG: "true"} if dry_run else {}


def sis_writer_tags(district: str) -> dict[str, str]:
    """Run tags that make the instance's run-tag limit allow one SIS writer per district."""
    return {SIS_WRITER_TAG: district}


def passback_partition_tags(partition_key: str) -> dict[str, str]:
    """Run tags of a passback partition: the sink only writes in runs tagged as SIS writer,
    and a district whose `passback.dry_run` is on has its runs tagged as dry runs."""
    district = district_of(partition_key)
    config = load_districts().get(district)
    return {**sis_writer_tags(district),
            **dry_run_tags(config is not None and config.passback.dry_run)}


def owner_tags() -> dict[str, str]:
    """Run tags naming the process that executes the run in-process (see pipeline/locks.py)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


# -- Run config ----------------------------------------------------------------------------


def op_name(key: dg.AssetKey) -> str:
    """The op name Dagster gives a single asset: its key as a Python identifier."""
    return key.to_python_identifier()


def full_refresh_run_config(entities: Iterable[str] | None = None) -> dict[str, Any]:
    """Run config that sets `full_refresh: true` on the SIS extract assets (default: all)."""
    return {"ops": {op_name(sis_key(entity)): {"config": {"full_refresh": True}}
                    for entity in (ENDPOINTS if entities is None else entities)}}


def passback_run_config(as_of: date, dry_run: bool = False) -> dict[str, Any]:
    """Run config of a passback run as of a date; `dry_run` forces a dry run of the sink
    (otherwise the district's own passback.dry_run setting decides)."""
    sink_config: dict[str, Any] = {"as_of": as_of.isoformat()}
    if dry_run:
        sink_config["dry_run"] = True
    return {"ops": {RULES_OP: {"config": {"as_of": as_of.isoformat()}},
                    op_name(SIS_SYNC): {"config": sink_config}}}
