"""The sandbox's gradebook: categories, line items and results, persisted.

Records are version-neutral dicts: the fields a client sent, with every
reference reduced to its sourcedId (``{"class": "cls-1", ...}``). Writes are
appended to a JSON-lines journal at `state_path` and flushed at once, so a
killed and restarted sandbox keeps them without rewriting a growing file on
every PUT.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tooling.sandbox.roster import Roster, Row

Record = dict[str, Any]
KINDS = ("categories", "lineItems", "results")


def _number(value: object) -> float | None:
    text = str(value or "").strip()
    return float(text) if text else None


def _seed_line_item(row: Row) -> Record:
    record: Record = {key: row[key] for key in
                      ("sourcedId", "status", "dateLastModified", "title") if key in row}
    for column in ("description", "assignDate", "dueDate"):
        if row.get(column):
            record[column] = row[column]
    record["class"] = row.get("classSourcedId")
    record["category"] = row.get("categorySourcedId")
    record["gradingPeriod"] = row.get("gradingPeriodSourcedId") or None
    record["resultValueMin"] = _number(row.get("resultValueMin"))
    record["resultValueMax"] = _number(row.get("resultValueMax"))
    return {key: value for key, value in record.items() if value is not None}


def _seed_result(row: Row) -> Record:
    record: Record = {key: row[key] for key in
                      ("sourcedId", "status", "dateLastModified", "scoreStatus", "scoreDate")
                      if row.get(key)}
    record["lineItem"] = row.get("lineItemSourcedId")
    record["student"] = row.get("studentSourcedId")
    record["score"] = _number(row.get("score"))
    if row.get("comment"):
        record["comment"] = row["comment"]
    return {key: value for key, value in record.items() if value is not None}


class GradebookStore:
    """Thread-safe gradebook state with an append-only journal."""

    def __init__(self, roster: Roster, state_path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
        for row in roster.seed_categories:
            self._records["categories"][str(row["sourcedId"])] = {
                key: row[key] for key in ("sourcedId", "status", "dateLastModified", "title")}
        for row in roster.seed_line_items:
            self._records["lineItems"][str(row["sourcedId"])] = _seed_line_item(row)
        for row in roster.seed_results:
            self._records["results"][str(row["sourcedId"])] = _seed_result(row)
        self._journal = None
        # A SIS that loses writes: consulted per stored line item or result (see faults.py).
        self.forget: Callable[[], bool] = lambda: False
        self.state_path = Path(state_path) if state_path else None
        if self.state_path:
            self._replay_and_compact(self.state_path)

    def _replay_and_compact(self, path: Path) -> None:
        """Apply an earlier run's journal, then rewrite it as one put per live record."""
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break  # a write cut short by a kill: everything before it stands
                if entry["op"] == "put":
                    self._records[entry["kind"]][entry["record"]["sourcedId"]] = entry["record"]
                else:
                    self._records[entry["kind"]].pop(entry["sourcedId"], None)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(path.suffix + ".tmp")
        with scratch.open("w", encoding="utf-8") as handle:
            for kind, records in self._records.items():
                for record in records.values():
                    handle.write(json.dumps({"op": "put", "kind": kind, "record": record}) + "\n")
        scratch.replace(path)
        self._journal = path.open("a", encoding="utf-8")

    def _append(self, entry: dict[str, Any]) -> None:
        if self._journal is not None:
            self._journal.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._journal.flush()

    # Writes
    def put(self, kind: str, record: Record) -> bool:
        """Store a record; return True when it was new."""
        with self._lock:
            created = record["sourcedId"] not in self._records[kind]
            if kind in ("lineItems", "results") and self.forget():
                return created  # answered as stored, never stored
            self._records[kind][record["sourcedId"]] = record
            self._append({"op": "put", "kind": kind, "record": record})
            return created

    def delete(self, kind: str, sourced_id: str) -> bool:
        """Remove a record (and a line item's results); return False when it was unknown."""
        with self._lock:
            if self._records[kind].pop(sourced_id, None) is None:
                return False
            self._append({"op": "delete", "kind": kind, "sourcedId": sourced_id})
            if kind == "lineItems":
                for result_id in [rid for rid, result in self._records["results"].items()
                                  if result.get("lineItem") == sourced_id]:
                    self.delete("results", result_id)
            return True

    def close(self) -> None:
        """Close the journal file."""
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    # Reads used by the server (no copies: the hot path must stay cheap)
    def get(self, kind: str, sourced_id: str) -> Record | None:
        """The live record, or None."""
        return self._records[kind].get(sourced_id)

    def all(self, kind: str) -> list[Record]:
        """Live records of a kind in insertion order."""
        with self._lock:
            return list(self._records[kind].values())

    # Reads for tests and tooling (copies, so assertions cannot corrupt state)
    def line_items(self, class_id: str | None = None) -> list[Record]:
        """Copies of every line item (optionally one class's); references are sourcedIds."""
        return [copy.deepcopy(r) for r in self.all("lineItems")
                if class_id is None or r.get("class") == class_id]

    def results(self, line_item_id: str | None = None) -> list[Record]:
        """Copies of every result (optionally one line item's)."""
        return [copy.deepcopy(r) for r in self.all("results")
                if line_item_id is None or r.get("lineItem") == line_item_id]

    def categories(self) -> list[Record]:
        """Copies of every category."""
        return [copy.deepcopy(r) for r in self.all("categories")]

    def line_item(self, sourced_id: str) -> Record | None:
        """A copy of one line item, or None."""
        record = self.get("lineItems", sourced_id)
        return copy.deepcopy(record) if record else None

    def result(self, sourced_id: str) -> Record | None:
        """A copy of one result, or None."""
        record = self.get("results", sourced_id)
        return copy.deepcopy(record) if record else None
