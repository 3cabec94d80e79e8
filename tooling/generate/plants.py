"""Which records are planted to break which rule, and how a rule treats them per profile.

Planting is by hash: a share of the eligible rows gets each case, and the first eligible row
(by hash) gets each case for certain, so even a 200-student district has every case. Cases are
exclusive per record (one case per assessment, one per class assignment) and are planted
only in open grading periods, so a planted record breaks its own rule and nothing else
unless the case says so (a due date after a semester's end is also in no grading period).

Every share here is scaled by the district's planted share (`planted_scale()`, a macro of the
generator's connection): the shares as written are the dense district the tests and
benchmarks were built on; `passback generate` and `passback demo` plant a tenth as many by
default, as a real district would show, and the first eligible row of each case stays planted.
"""

from __future__ import annotations

# Assessment cases: (case, share of open assessments). Each bends one property.
ASSESSMENT_CASES: tuple[tuple[str, float], ...] = (
    ("assessment_deleted", 0.010),
    ("standards", 0.025),
    ("points_missing", 0.012),
    ("points_zero", 0.004),
    ("fractional_possible", 0.015),
    ("title_50_plus", 0.015),
    ("title_exactly_50", 0.004),
    ("title_exactly_49", 0.010),  # control: 49 characters pass everywhere
    ("not_in_final_grade", 0.020),
    ("type_mapped_to_null", 0.025),
    ("type_outside_otus_12", 0.005),
    ("category_tobedeleted", 0.030),
    ("assigned_before_effective", 0.015),
    ("assigned_before_updated_after", 0.004),  # Skyward passes it: changed after the date
    ("assigned_utc_date_differs", 0.002),  # 03:30Z on the date is 22:30 local the day before
    ("due_in_gap", 0.015),
    ("due_in_summer", 0.003),
    ("due_2330_last_day_open", 0.005),  # control: 23:30 local on the last day is in the period
)
# The planted share as written above: the share of open assessments that carry a case.
DENSE_PLANTED_SHARE = round(sum(share for _, share in ASSESSMENT_CASES), 6)
# What a real district shows: about one assessment in fifty breaks a rule.
REALISTIC_PLANTED_SHARE = 0.02


def planted_scale(planted_share: float) -> float:
    """The factor every planted share is multiplied by for a district of `planted_share`."""
    if not 0 <= planted_share <= DENSE_PLANTED_SHARE * 2:
        raise ValueError(f"planted_share must be between 0 and {DENSE_PLANTED_SHARE * 2:g} "
                         f"(dense: {DENSE_PLANTED_SHARE:g}), got {planted_share:g}")
    return planted_share / DENSE_PLANTED_SHARE
# Special groups: semester classes (due after the term), the period after a closed one.
OUTSIDE_TERM_SHARE = 0.03
STRADDLE_SHARE = 0.03
# Class-assignment cases: (case, share of clean class assignments in open periods).
ASSIGNMENT_CASES: tuple[tuple[str, float], ...] = (
    ("assignment_deleted", 0.010),
    ("otus_admin", 0.015),  # an Otus-only administrator (in the passback group) assigned it
    ("otus_admin_not_in_group", 0.002),
)

# What each rule does to a breaking record, per profile (passback-rules.md, "applies").
RULE_EFFECTS: dict[str, dict[str, str]] = {
    "fractional_points": {"skyward": "reject", "infinite_campus": "warn", "oneroster": "pass"},
    "name_too_long": {"skyward": "reject", "infinite_campus": "pass", "oneroster": "pass"},
    "outside_term": {"skyward": "pass", "infinite_campus": "reject", "oneroster": "pass"},
}


def effect(rule_id: str, profile: str) -> str:
    """`reject`, `warn` or `pass`: what `profile` does with a record that breaks `rule_id`."""
    return RULE_EFFECTS.get(rule_id, {}).get(profile, "reject")


def _bucket_case(cases: tuple[tuple[str, float], ...], rank: str, u: str) -> str:
    """CASE: the first len(cases) ranks get one case each, the rest a share by `u`."""
    names = "[" + ", ".join(f"'{name}'" for name, _ in cases) + "]"
    whens, total = [], 0.0
    for name, share in cases:
        total += share
        whens.append(f"WHEN {u} < {total:.6f} * planted_scale() THEN '{name}'")
    return f"CASE WHEN {rank} <= {len(cases)} THEN {names}[{rank}] {' '.join(whens)} END"


def assessment_plant_sql() -> str:
    """SELECT a, plant: the planted case of each planted assessment of table design (the
    grading periods' closed flags come from table gp)."""
    general = _bucket_case(ASSESSMENT_CASES, "ra", "u01('pa', a, 0)")
    return f"""
    WITH d AS (
        SELECT d.a, d.closed, d.term_kind > 0 AS semester, t.sections,
               coalesce(pg.closed, false) AS after_closed
        FROM design d JOIN teacher t USING (teacher) LEFT JOIN gp pg ON pg.g = d.g - 1),
    ranked AS (
        SELECT *,
            row_number() OVER (PARTITION BY NOT closed AND semester
                               ORDER BY sections, u01('rb', a, 0), a) AS rb,
            row_number() OVER (PARTITION BY NOT closed AND after_closed
                               ORDER BY sections, u01('rc', a, 0), a) AS rc,
            row_number() OVER (PARTITION BY closed ORDER BY u01('rd', a, 0), a) AS rd
        FROM d),
    special AS (
        SELECT a, closed, sections, CASE
            WHEN closed AND rd = 1 THEN 'due_2330_last_day_closed'
            WHEN closed THEN NULL
            WHEN semester
                 AND (rb = 1 OR u01('pb', a, 0) < {OUTSIDE_TERM_SHARE} * planted_scale())
                THEN 'due_after_term_end'
            WHEN after_closed
                 AND (rc = 1 OR u01('pc', a, 0) < {STRADDLE_SHARE} * planted_scale())
                THEN 'straddles_closed_end' END AS special
        FROM ranked),
    general AS (
        SELECT *, row_number() OVER (PARTITION BY closed OR special IS NOT NULL
                                     ORDER BY sections, u01('ra', a, 0), a) AS ra
        FROM special),
    planted AS (
        SELECT a, CASE WHEN special IS NOT NULL THEN special WHEN closed THEN NULL
                       ELSE {general} END AS plant
        FROM general)
    SELECT * FROM planted WHERE plant IS NOT NULL"""


def assignment_plant_sql() -> str:
    """SELECT ca, plant: planted cases on class assignments of clean, open assessments."""
    general = _bucket_case(ASSIGNMENT_CASES, "rk", "u01('pca', ca, 0)")
    return f"""
    WITH e AS (SELECT ca, a_plant IS NULL AND NOT closed AS ok FROM ca_base),
    r AS (SELECT *, row_number() OVER (PARTITION BY ok ORDER BY u01('rca', ca, 0), ca) AS rk
          FROM e),
    planted AS (SELECT ca, CASE WHEN ok THEN {general} END AS plant FROM r)
    SELECT * FROM planted WHERE plant IS NOT NULL"""
