"""Deterministic sourcedIds: a true UUIDv5 of the district and the Otus ids.

A replay (or a backfill) computes the same sourcedId for the same class assignment or score,
so a PUT to the SIS updates the object written before instead of creating a duplicate. The
SQL form runs inside DuckDB (sha1 over millions of keys in one vectorised pass); the Python
form is the reference the tests compare it with (`uuid.uuid5`).

The name joins its parts with `/`, so a part is escaped first: `%` as `%25` and `/` as `%2F`
(percent-encoding of just those two). ('ca1/x', 'y') and ('ca1', 'x/y') then name different
objects, and a part with neither character is unchanged, so every sourcedId made before the
escaping (the ledger is keyed by them) stays what it was (issue 17, item 10).
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would give every SIS object a new sourcedId.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://otus.com/passback")


# Order matters: `%` first, or the `%` of an escaped `/` would be escaped again.
_ESCAPES = (("%", "%25"), ("/", "%2F"))


def escape(part: str) -> str:
    """One part of a name, with `%` and `/` percent-encoded (any other text unchanged)."""
    for char, code in _ESCAPES:
        part = part.replace(char, code)
    return part


def name_for(district: str, entity: str, *ids: str) -> str:
    """The UUIDv5 name: `district/entity/id[/id]`, each part escaped."""
    return "/".join(escape(part) for part in (district, entity, *ids))


def escape_sql(part_expr: str) -> str:
    """SQL: `escape` of a VARCHAR expression."""
    for char, code in _ESCAPES:
        part_expr = f"replace({part_expr}, '{char}', '{code}')"
    return part_expr


def name_sql(district_expr: str, entity: str, *id_exprs: str) -> str:
    """SQL: `name_for` of SQL expressions (`entity` is a constant such as 'line_item')."""
    parts = [escape_sql(district_expr), f"'{escape(entity)}'",
             *(escape_sql(expr) for expr in id_exprs)]
    return " || '/' || ".join(parts)


def sourced_id(district: str, entity: str, *ids: str) -> str:
    """The sourcedId of one record, in Python (reference implementation)."""
    return str(uuid.uuid5(NAMESPACE, name_for(district, entity, *ids)))


def digest_sql(name_expr: str) -> str:
    """SQL: the sha1 hex digest of namespace bytes || name bytes (RFC 9562, UUIDv5)."""
    return f"sha1(from_hex('{NAMESPACE.hex}') || encode({name_expr}))"


def uuid_from_digest_sql(digest_column: str) -> str:
    """SQL: format a `digest_sql` column as a UUIDv5 (version nibble 5, variant bits 10).

    Takes a column rather than the digest expression so sha1 runs once per row.
    """
    h = digest_column
    return (
        f"substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-5' || substr({h}, 14, 3) || '-' "
        f"|| lower(printf('%x', ((('0x' || substr({h}, 17, 1))::INTEGER & 3) | 8))) "
        f"|| substr({h}, 18, 3) || '-' || substr({h}, 21, 12)"
    )
