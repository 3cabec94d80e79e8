"""The school-year calendar a generated district runs on: a school year, two semesters,
four quarters with gaps between them (a weekend, winter break, spring break, summer), the
passback effective date and which grading periods are closed on the as-of date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# A grading period is nine weeks and four days: Monday of week one to Friday of week nine.
QUARTER_DAYS = 7 * 9 - 3


@dataclass(frozen=True)
class Session:
    """One OneRoster academicSession."""

    sourced_id: str
    title: str
    type: str  # schoolYear | term | gradingPeriod
    start: date
    end: date
    parent: str | None


@dataclass(frozen=True)
class SchoolCalendar:
    """The sessions of one school year and the dates the generator designs around."""

    start_year: int
    as_of: date
    school_year: Session
    semesters: tuple[Session, Session]
    quarters: tuple[Session, Session, Session, Session]
    effective_date: date
    closed: tuple[str, ...]

    @property
    def sessions(self) -> list[Session]:
        """Every session, parents first (the order academicSessions.csv is written in)."""
        return [self.school_year, *self.semesters, *self.quarters]

    @property
    def school_year_label(self) -> str:
        """OneRoster `schoolYear`: the calendar year the school year ends in."""
        return str(self.start_year + 1)

    def gap_after(self, quarter: int) -> date:
        """A day in no grading period right after quarter `quarter` (0-based)."""
        end = self.quarters[quarter].end
        # After Q1 that is the weekend, after Q2 winter break, after Q3 spring break.
        return end + timedelta(days=1 if quarter == 0 else 3) if quarter < 3 else self.summer_day

    @property
    def summer_day(self) -> date:
        """A day in the summer after the last quarter: inside the school year, in no period."""
        return date(self.start_year + 1, 6, 15)


def school_start_year(as_of: date) -> int:
    """The year the school year containing `as_of` starts (Aug to Jul; summer: the one ended)."""
    return as_of.year if as_of.month >= 8 else as_of.year - 1


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def build_calendar(as_of: date) -> SchoolCalendar:
    """The calendar of the school year containing `as_of` (summer belongs to the year ended)."""
    year = school_start_year(as_of)
    sy_id = f"sy{year}"
    q1_start = _monday_on_or_after(date(year, 8, 14))
    q2_start = q1_start + timedelta(weeks=9)
    q3_start = _monday_on_or_after(date(year + 1, 1, 4))
    q4_start = q3_start + timedelta(weeks=10)  # a week of spring break after Q3
    starts = (q1_start, q2_start, q3_start, q4_start)
    semesters = (
        Session(f"{sy_id}-s1", "Semester 1", "term", q1_start,
                q2_start + timedelta(days=QUARTER_DAYS), sy_id),
        Session(f"{sy_id}-s2", "Semester 2", "term", q3_start,
                q4_start + timedelta(days=QUARTER_DAYS), sy_id),
    )
    quarters = tuple(
        Session(f"{sy_id}-q{i + 1}", f"Quarter {i + 1}", "gradingPeriod", start,
                start + timedelta(days=QUARTER_DAYS), semesters[i // 2].sourced_id)
        for i, start in enumerate(starts)
    )
    school_year = Session(sy_id, f"{year}-{year + 1}", "schoolYear", date(year, 8, 1),
                          date(year + 1, 7, 31), None)
    # The district files the first quarter as closed once it is over (brief: listed, not SIS).
    closed = (quarters[0].sourced_id,) if as_of > quarters[0].end else ()
    return SchoolCalendar(
        start_year=year,
        as_of=as_of,
        school_year=school_year,
        semesters=semesters,
        quarters=quarters,  # type: ignore[arg-type]
        effective_date=q1_start,
        closed=closed,
    )
