"""The mass-change safeguard: a sync that would take much of what the SIS holds from Passback
away stops before sending, writes its plan, says why, and waits for a person to confirm.

A run is held when
- the plan's removals (actions `delete` and `stopped`) not already let through for this
  partition are more than the district's `passback.mass_change_share` (default 10%) of what
  the SIS holds from Passback for the district (ledger rows sent and not deleted), or
- it follows an Otus export that emptied an entity which held rows before
  (`passback.otus_load_counts`, written by the Otus extract): a header-only
  `class_assignments.csv`, `scores.csv` or `passback_group.csv`, or one marking every row
  deleted, breaks no contract yet removes grades or silently stops passback.
`passback run --allow-mass-change` (or `allow_mass_change: true` in the sink's run config)
confirms it. Whatever a run let through (confirmed, or under the share) is recorded in
`passback.mass_change_confirmed`, per partition, so a removal that persists (a `stopped` object
stays in the ledger) or an entity that stays empty is counted once, not on every run after it.

`assess` is the decision, a pure function over counts; `guard_mass_change` reads its inputs from
the warehouse (in one short connection, never across network I/O) and enforces it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from pipeline.config import DistrictConfig
from pipeline.sink.plan import Action, SyncPlan
from pipeline.warehouse import transaction

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
Log = Callable[[str], None]

REMOVALS = ("delete", "stopped")
EMPTIED = "emptied"  # the action recorded for an empty Otus entity that was let through

# What the SIS holds from Passback for the district: sent once, not deleted since (the plan's
# `ledger_sent`).
_HELD_SQL = """
SELECT count(*) FROM passback.sync_ledger
WHERE district = $district AND first_sent_at IS NOT NULL AND state <> 'deleted'
"""
# Export entities whose latest load has no live rows where an earlier one had some.
_EMPTIED_SQL = """
SELECT entity, last_nonempty_rows FROM passback.otus_load_counts
WHERE district = $district AND rows = 0 AND last_nonempty_rows > 0 ORDER BY entity
"""
_CONFIRMED_SQL = """
SELECT entity, sourced_id FROM passback.mass_change_confirmed
WHERE district = $district AND grading_period_sourced_id = $grading_period
"""


class MassChangeError(RuntimeError):
    """A sync held by the safeguard: nothing was sent; the message says why and how to go on."""


@dataclass(frozen=True)
class MassChange:
    """The safeguard's decision for one plan, with the numbers behind it."""

    deletes: int
    stopped: int
    held: int
    limit: float
    # (entity, live rows it had at its last non-empty load) for each entity the export emptied
    emptied: tuple[tuple[str, int], ...] = ()

    @property
    def removals(self) -> int:
        """New removals: deletions plus objects no longer passed back."""
        return self.deletes + self.stopped

    @property
    def share(self) -> float:
        """New removals over what the SIS holds from Passback (0 when nothing is removed)."""
        if not self.held:
            return 1.0 if self.removals else 0.0
        return self.removals / self.held

    @property
    def over_share(self) -> bool:
        """More than the district's share would go."""
        return self.share > self.limit

    @property
    def held_back(self) -> bool:
        """The run must stop before sending unless a person confirms it."""
        return self.over_share or bool(self.emptied)

    def reasons(self) -> list[str]:
        """Why the run is held, one line per cause (empty when it is not)."""
        if not self.held_back:
            return []
        what = (f"it would delete {self.deletes:,} and stop passing back {self.stopped:,} "
                f"of the {self.held:,} objects the SIS holds from Passback ({self.share:.1%}")
        lines = [f"{what}, above the district's passback.mass_change_share of "
                 f"{self.limit:.0%})" if self.over_share else f"{what})"]
        lines += [f"the latest Otus export has no live rows in {entity} (an earlier one had "
                  f"{rows:,})" for entity, rows in self.emptied]
        return lines


def assess(deletes: int, stopped: int, held: int, limit: float,
           emptied: tuple[tuple[str, int], ...] = ()) -> MassChange:
    """The safeguard's decision from counts alone: new deletions and stops, what the SIS
    holds from Passback, the district's share, and the entities the export emptied."""
    if min(deletes, stopped, held) < 0:
        raise ValueError(f"counts cannot be negative: {deletes} deletes, {stopped} stops, "
                         f"{held} objects held")
    if not 0 < limit <= 1:
        raise ValueError(f"mass_change_share must be in (0, 1], not {limit}")
    return MassChange(deletes, stopped, held, limit, tuple(emptied))


@dataclass(frozen=True)
class _Inputs:
    """What the safeguard reads from the warehouse."""

    held: int
    emptied: tuple[tuple[str, int], ...]
    confirmed: frozenset[tuple[str, str | None]] = field(default_factory=frozenset)


def _read_inputs(conn: duckdb.DuckDBPyConnection, district: str,
                 grading_period: str) -> _Inputs:
    params = {"district": district, "grading_period": grading_period}
    held = conn.execute(_HELD_SQL, {"district": district}).fetchone()[0]
    emptied = tuple((entity, int(rows)) for entity, rows in
                    conn.execute(_EMPTIED_SQL, {"district": district}).fetchall())
    confirmed = frozenset(conn.execute(_CONFIRMED_SQL, params).fetchall())
    return _Inputs(int(held), emptied, confirmed)


def _record(conn: duckdb.DuckDBPyConnection, plan: SyncPlan, removals: list[Action],
            run_id: str, emptied: tuple[str, ...]) -> None:
    """Replace the partition's confirmed removals with what this run let through."""
    now = datetime.now(UTC)
    rows = [(a.entity, a.sourced_id, a.action) for a in removals]
    rows += [(f"otus.{name}", None, EMPTIED) for name in emptied]
    table = pa.table({"entity": [r[0] for r in rows], "sourced_id": [r[1] for r in rows],
                      "action": [r[2] for r in rows]},
                     schema=pa.schema([("entity", pa.string()), ("sourced_id", pa.string()),
                                       ("action", pa.string())]))
    params = {"district": plan.district, "grading_period": plan.grading_period_sourced_id}
    with transaction(conn):
        conn.execute("DELETE FROM passback.mass_change_confirmed WHERE district = $district "
                     "AND grading_period_sourced_id = $grading_period", params)
        conn.register("confirmed_rows", table)
        conn.execute("INSERT INTO passback.mass_change_confirmed SELECT $district, "
                     "$grading_period, entity, sourced_id, action, $run_id, $now "
                     "FROM confirmed_rows", {**params, "run_id": run_id, "now": now})
        conn.unregister("confirmed_rows")


def guard_mass_change(connect: Connect, plan: SyncPlan, config: DistrictConfig, *,
                      run_id: str, allowed: bool = False, log: Log = print) -> MassChange:
    """Stop a stored plan before it sends a mass change, unless `allowed`.

    Raises MassChangeError (nothing sent, the plan already in passback.sync_plan) when the
    plan is held and not allowed; otherwise records what this run lets through and returns
    the decision. A closed grading period sends nothing and is never held."""
    with connect() as conn:
        inputs = _read_inputs(conn, plan.district, plan.grading_period_sourced_id)
        removals = list(plan.select(REMOVALS, conn=conn))
        new = [a for a in removals if (a.entity, a.sourced_id) not in inputs.confirmed]
        emptied = tuple((name, rows) for name, rows in inputs.emptied
                        if (f"otus.{name}", None) not in inputs.confirmed)
        decision = assess(sum(a.action == "delete" for a in new),
                          sum(a.action == "stopped" for a in new), inputs.held,
                          config.passback.mass_change_share, emptied)
        if plan.closed:
            return decision
        where = f"{plan.district} / {plan.grading_period_sourced_id}"
        if decision.held_back and not allowed:
            message = (f"mass change held for {where}: " + "; ".join(decision.reasons())
                       + f". Nothing was sent; the plan is in passback.sync_plan (run {run_id}). "
                       "If this is intended, run again with `passback run --allow-mass-change` "
                       "(or the sink's run config `allow_mass_change: true`).")
            log(message)  # said in the run's log as a line, not only in a traceback
            raise MassChangeError(message)
        if decision.held_back:
            log(f"mass change confirmed for {where} (--allow-mass-change): "
                + "; ".join(decision.reasons()))
        # Every entity still emptied was let through now or before; one that has rows again
        # drops out, so emptying it again is held again.
        _record(conn, plan, removals, run_id,
                tuple(name for name, _rows in inputs.emptied))
    return decision
