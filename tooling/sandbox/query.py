"""OneRoster collection queries: filter, sort/orderBy, fields, limit/offset paging.

Filters follow the REST binding: ``field op 'value'`` with ``= != > >= < <= ~``
joined by ``AND``/``OR`` (AND binds tighter). A dotted field reaches into
references (``class.sourcedId``); a bare reference field compares its sourcedId.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tooling.sandbox.errors import ImsxError, bad_request

JSON = dict[str, Any]
_CLAUSE = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<|~)\s*'((?:[^']|'')*)'\s*")
_JOIN = re.compile(r"\s*(AND|OR)\s+|\s*$")


def _bad_field(code: str, description: str) -> ImsxError:
    return ImsxError(400, code, description)


def _scalar(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("sourcedId")
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def _lookup(obj: Any, path: list[str]) -> list[str]:
    """Every scalar at a dotted path (lists fan out, so `terms.sourcedId` matches any term)."""
    if isinstance(obj, list):
        return [v for item in obj for v in _lookup(item, path)]
    if not path:
        scalar = _scalar(obj)
        return [] if scalar is None else [scalar]
    if not isinstance(obj, dict):
        return []
    return _lookup(obj.get(path[0]), path[1:])


def _compare(left: str, op: str, right: str) -> bool:
    if op == "~":
        return right.lower() in left.lower()
    a: Any = left
    b: Any = right
    # ISO dates and ids compare as text, which orders them correctly; numbers as numbers.
    with contextlib.suppress(ValueError):
        a, b = float(left), float(right)
    return {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b,
            "<=": a <= b}[op]


Predicate = Callable[[JSON], bool]


def parse_filter(text: str, allowed: frozenset[str]) -> Predicate:
    """Compile a filter expression; raise a 400 imsx error naming what is wrong."""
    clauses: list[list[tuple[list[str], str, str]]] = [[]]
    position = 0
    while position < len(text):
        match = _CLAUSE.match(text, position)
        if not match:
            raise bad_request(f"filter {text!r} is not of the form field<op>'value' "
                              "joined by AND/OR")
        field, op, value = match.group(1), match.group(2), match.group(3).replace("''", "'")
        if field.split(".")[0] not in allowed:
            raise _bad_field("invalid_filter_field", f"filter field '{field}' is not a field "
                             "of this collection")
        clauses[-1].append((field.split("."), op, value))
        join = _JOIN.match(text, match.end())
        if join is None:
            raise bad_request(f"filter {text!r}: expected AND or OR after '{match.group(0)}'")
        position = join.end()
        if join.group(1) == "OR":
            clauses.append([])
        elif join.group(1) is None:
            break
    if not clauses[-1]:
        raise bad_request(f"filter {text!r} ends with a dangling AND/OR")

    def predicate(obj: JSON) -> bool:
        return any(all(any(_compare(v, op, value) for v in _lookup(obj, path))
                       if op != "!=" else all(_compare(v, op, value) for v in _lookup(obj, path))
                       for path, op, value in group) for group in clauses)

    return predicate


def _int_param(params: Any, name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, got {raw!r}") from None
    if number < minimum:
        raise bad_request(f"{name} must be at least {minimum}, got {number}")
    return number


@dataclass(frozen=True)
class Page:
    """One page of a collection and the headers that describe it."""

    items: list[JSON]
    headers: dict[str, str]


def _link_header(url: str, params: Any, limit: int, offset: int, total: int) -> str:
    kept = [(k, v) for k, v in params.multi_items() if k not in ("limit", "offset")]

    def link(at: int, rel: str) -> str:
        query = urlencode([*kept, ("limit", str(limit)), ("offset", str(at))])
        return f'<{url}?{query}>; rel="{rel}"'

    last = max(0, (total - 1) // limit * limit)
    links = []
    if offset + limit < total:
        links.append(link(offset + limit, "next"))
    if offset > 0:
        links.append(link(max(0, offset - limit), "prev"))
    links += [link(0, "first"), link(last, "last")]
    return ", ".join(links)


def select_fields(obj: JSON, params: Any, allowed: frozenset[str]) -> JSON:
    """Keep only the `fields` a client asked for (all when it asked for none)."""
    if not params.get("fields"):
        return obj
    wanted = [name.strip() for name in params["fields"].split(",") if name.strip()]
    unknown = [name for name in wanted if name not in allowed]
    if unknown:
        raise _bad_field("invalid_selection_field",
                         f"fields {', '.join(unknown)} are not fields of this collection")
    return {key: obj[key] for key in wanted if key in obj}


def page(objects: Sequence[JSON], params: Any, url: str, allowed: frozenset[str],
         default_limit: int, max_limit: int) -> Page:
    """Apply filter, sort, paging and field selection to a collection."""
    limit = min(_int_param(params, "limit", default_limit, 1), max_limit)
    offset = _int_param(params, "offset", 0, 0)
    selected: Sequence[JSON] = objects
    if params.get("filter"):
        predicate = parse_filter(params["filter"], allowed)
        selected = [obj for obj in objects if predicate(obj)]
    sort = params.get("sort")
    order = params.get("orderBy", "asc")
    if order not in ("asc", "desc", "acs"):  # "acs" is the 1.1 document's own typo
        raise bad_request(f"orderBy must be asc or desc, got {order!r}")
    if sort:
        if sort not in allowed:
            raise _bad_field("invalid_selection_field", f"sort field '{sort}' is not a field "
                             "of this collection")
        # Objects without the field sort last in either direction.
        present = [o for o in selected if _scalar(o.get(sort)) is not None]
        missing = [o for o in selected if _scalar(o.get(sort)) is None]
        present.sort(key=lambda o: _scalar(o.get(sort)) or "", reverse=order == "desc")
        selected = present + missing
    total = len(selected)
    items = list(selected[offset:offset + limit])
    items = [select_fields(obj, params, allowed) for obj in items] \
        if params.get("fields") else items
    headers = {"X-Total-Count": str(total),
               "Link": _link_header(url, params, limit, offset, total)}
    return Page(items, headers)
