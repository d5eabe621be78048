"""Case codes (办件全流程赋码): the readable, checkable code that names a case everywhere.

Format (the Temporal workflow ID of the case)::

    {region6}-{abbr}-{yyyymmdd}-{seq:05d}-{check}
    510100-QYQYDJ-20261126-00042-6

- ``region6``: the 6-digit administrative division code (行政区划代码) where the case was
  submitted; its first two digits must be a known province-level code.
- ``abbr``: the bundle's abbreviation, 2-8 uppercase letters (``Bundle.abbr``).
- ``yyyymmdd``: the submission date in China Standard Time.
- ``seq``: 00001-99999, allocated per (region, abbr, day) in the database by one atomic
  upsert, so concurrent processes never hand out the same number (gaps are possible).
- ``check``: one character of ``0-9A-Z`` computed over all preceding characters with the
  hyphens removed (the *payload*) by Damm's algorithm over a totally anti-symmetric
  quasigroup of order 36 (see :func:`compute_check`).

Why not ISO/IEC 7064 MOD 37,36: that hybrid system catches every single substitution, but
for each of its 36 internal states there is one pair of characters whose adjacent swap it
misses (sequences ``00045`` and ``00054`` of ``510100-QYQYDJ-20261126`` get the same check
character), and the requirement is to catch *every* adjacent transposition. A pure ISO 7064
system (MOD 37-2) would, but needs a 37th check symbol ``*``, a shell glob character in a
code people type on the command line. Damm's algorithm with an order-36 quasigroup keeps one
character from ``0-9A-Z`` and catches every single substitution and every adjacent
transposition, including a swap of the last payload character with the check character.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from onething.identifiers import is_known_province
from onething.models import CaseCodeSequence

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
MAX_SEQ = 99_999
CST = ZoneInfo("Asia/Shanghai")

_ABBR = re.compile(r"^[A-Z]{2,8}$")
_SHAPE = re.compile(r"^([^-]+)-([A-Z]{2,8})-([^-]+)-([0-9]{5})-([0-9A-Z])$")

# The quasigroup is the direct product GF(4) x Z_9 with x*y = a.x + y, where a is a
# generator w of GF(4) and 2 in Z_9. Each factor is totally anti-symmetric because both a and
# a-1 are invertible there, and a direct product of such quasigroups is again one. Z_36
# alone cannot work: a and a-1 cannot both be units modulo 36 (one of them is even).
_GF4_TIMES_W = (0, 2, 3, 1)  # multiplication by w in GF(4) = {0, 1, w, w+1} as 2-bit values


def _op(state: int, value: int) -> int:
    a, b = divmod(state, 9)
    c, d = divmod(value, 9)
    return (_GF4_TIMES_W[a] ^ c) * 9 + (2 * b + d) % 9


def _fold(chars: str) -> int:
    state = 0
    for pos, ch in enumerate(chars, start=1):
        try:
            state = _op(state, _INDEX[ch])
        except KeyError:
            raise ValueError(
                f"character {pos} {ch!r} is not one of 0-9 A-Z (uppercase, no hyphens)"
            ) from None
    return state


def compute_check(payload: str) -> str:
    """The check character for ``payload`` (characters of ``0-9A-Z``, hyphens removed)."""
    a, b = divmod(_fold(payload), 9)
    # The unique k with state*k == 0: GF(4) part w.a + k = 0, so k = w.a (characteristic 2);
    # Z_9 part 2b + k = 0.
    return ALPHABET[_GF4_TIMES_W[a] * 9 + (-2 * b) % 9]


def check_holds(payload_and_check: str) -> bool:
    """True when the last character is the right check character for the ones before it."""
    return len(payload_and_check) >= 2 and _fold(payload_and_check) == 0


class InvalidCaseCode(ValueError):  # noqa: N818  # name fixed by the issue's API
    """A case code that is malformed or fails its check; the message says why."""


class CaseCodeExhausted(RuntimeError):  # noqa: N818  # reads as the condition, like its siblings
    """More than 99,999 cases of one bundle in one region on one day."""


class CaseCodeParts(BaseModel):
    model_config = ConfigDict(frozen=True)

    region: str
    abbr: str
    day: date
    seq: int
    check: str

    @property
    def code(self) -> str:
        return f"{self.region}-{self.abbr}-{self.day:%Y%m%d}-{self.seq:05d}-{self.check}"


def case_day(at: datetime) -> date:
    """The submission date in China Standard Time of an aware instant."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("case_day needs a timezone-aware datetime, got a naive one")
    return at.astimezone(CST).date()


def _check_region(region: str) -> None:
    if not re.fullmatch(r"[0-9]{6}", region):
        raise ValueError(f"region {region!r} must be a 6-digit administrative division code")
    if not is_known_province(region[:2]):
        raise ValueError(f"region {region!r} does not start with a known province-level code")


def _check_abbr(abbr: str) -> None:
    if not _ABBR.fullmatch(abbr):
        raise ValueError(f"bundle abbreviation {abbr!r} must be 2-8 uppercase letters A-Z")


def format_case_code(*, region: str, abbr: str, day: date, seq: int) -> str:
    """Build a case code; raises ValueError naming the bad part."""
    _check_region(region)
    _check_abbr(abbr)
    if not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"sequence {seq} must be between 1 and {MAX_SEQ}")
    if not 1 <= day.year <= 9999:
        raise ValueError(f"day {day} must have a 4-digit year")
    payload = f"{region}{abbr}{day:%Y%m%d}{seq:05d}"
    return f"{region}-{abbr}-{day:%Y%m%d}-{seq:05d}-{compute_check(payload)}"


def parse_case_code(code: str) -> CaseCodeParts:
    """Split and verify a case code; raises :class:`InvalidCaseCode` with the reason."""
    m = _SHAPE.fullmatch(code)
    if m is None:
        raise InvalidCaseCode(
            f"case code {code!r} has the wrong shape: expected "
            "REGION6-ABBR-YYYYMMDD-SEQ5-C, e.g. 510100-QYQYDJ-20261126-00042-6"
        )
    region, abbr, day_s, seq_s, check = m.groups()
    try:
        _check_region(region)
    except ValueError as exc:
        raise InvalidCaseCode(f"case code {code!r}: bad region: {exc}") from None
    if not re.fullmatch(r"[0-9]{8}", day_s):
        raise InvalidCaseCode(f"case code {code!r}: bad date {day_s!r}: expected YYYYMMDD")
    try:
        day = datetime.strptime(day_s, "%Y%m%d").date()
    except ValueError:
        raise InvalidCaseCode(f"case code {code!r}: bad date {day_s!r}: no such day") from None
    seq = int(seq_s)
    if seq == 0:
        raise InvalidCaseCode(f"case code {code!r}: bad sequence 00000: sequences start at 1")
    expected = compute_check(f"{region}{abbr}{day_s}{seq_s}")
    if check != expected:
        raise InvalidCaseCode(
            f"case code {code!r}: bad check character: expected {expected}, got {check} "
            "(a character is mistyped or two are swapped)"
        )
    return CaseCodeParts(region=region, abbr=abbr, day=day, seq=seq, check=check)


def is_valid_case_code(code: str) -> bool:
    try:
        parse_case_code(code)
    except InvalidCaseCode:
        return False
    return True


def _upsert(dialect: str, *, region: str, abbr: str, day: date) -> Insert:
    table = CaseCodeSequence.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if module is None:
        raise NotImplementedError(
            f"case code allocation supports PostgreSQL and SQLite, not {dialect!r}"
        )
    stmt = module.insert(table).values(region=region, abbr=abbr, day=day, last_value=1)
    upsert: Insert = stmt.on_conflict_do_update(
        index_elements=["region", "abbr", "day"],
        set_={"last_value": table.c.last_value + 1},
    ).returning(table.c.last_value)
    return upsert


# SQLite hands out "database is locked" when its 30 s busy timeout cannot help (e.g. a
# checkpoint racing a writer); a short retry turns that into a wait instead of a failure.
_RETRIES = 5
_BACKOFF_S = 0.05


def allocate_case_code(session: Session, *, region: str, abbr: str, day: date) -> str:
    """Claim the next sequence number for (region, abbr, day) and return the case code.

    One atomic ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement claims the
    number, and the session is committed at once, like a database sequence: a claimed
    number is never handed out twice, the row lock is held only for an instant, and a case
    that fails later leaves a gap rather than a reused code. Use a session with no other
    pending work.
    """
    _check_region(region)
    _check_abbr(abbr)
    stmt = _upsert(session.get_bind().dialect.name, region=region, abbr=abbr, day=day)
    for attempt in range(_RETRIES):
        try:
            seq = int(session.connection().execute(stmt).scalar_one())
            if seq > MAX_SEQ:
                session.rollback()
                raise CaseCodeExhausted(
                    f"no case code left for region {region}, bundle {abbr} on {day}: "
                    f"the daily sequence is limited to {MAX_SEQ}"
                )
            session.commit()
            break
        except OperationalError as exc:
            session.rollback()
            if "locked" not in str(exc).lower() or attempt == _RETRIES - 1:
                raise
            time.sleep(_BACKOFF_S * (attempt + 1))
    return format_case_code(region=region, abbr=abbr, day=day, seq=seq)
