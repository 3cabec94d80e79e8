"""Deterministic sourcedIds: a true UUIDv5 of the district and the Otus ids.

A replay (or a backfill) computes the same sourcedId for the same class assignment or score,
so a PUT to the SIS updates the object written before instead of creating a duplicate. The
SQL form runs inside DuckDB (sha1 over millions of keys in one vectorised pass); the Python
form is the reference the tests compare it with (`uuid.uuid5`).
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would give every SIS object a new sourcedId.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://otus.com/passback")


def name_for(district: str, entity: str, *ids: str) -> str:
    """The UUIDv5 name: `district/entity/id[/id]`."""
    return "/".join((district, entity, *ids))


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
