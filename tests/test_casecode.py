from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, date, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from onething.casecode import (
    ALPHABET,
    MAX_SEQ,
    CaseCodeExhausted,
    InvalidCaseCode,
    _op,
    allocate_case_code,
    case_day,
    check_holds,
    compute_check,
    format_case_code,
    is_valid_case_code,
    parse_case_code,
)
from onething.db import get_engine, session_scope

DAY = date(2026, 11, 26)
EXAMPLE = "510100-QYQYDJ-20261126-00042-6"

payloads = st.text(alphabet=ALPHABET, min_size=1, max_size=40)
regions = st.sampled_from(["510100", "510000", "500000", "110105", "440300", "810000"])
abbrs = st.from_regex(r"\A[A-Z]{2,8}\Z")
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
seqs = st.integers(min_value=1, max_value=MAX_SEQ)


@st.composite
def case_codes(draw: st.DrawFn) -> str:
    return format_case_code(region=draw(regions), abbr=draw(abbrs), day=draw(days), seq=draw(seqs))


def _checked(payload: str) -> str:
    return payload + compute_check(payload)


# --- the check character ----------------------------------------------------------------


def test_documented_example() -> None:
    code = format_case_code(region="510100", abbr="QYQYDJ", day=DAY, seq=42)
    assert code == EXAMPLE
    parts = parse_case_code(code)
    assert (parts.region, parts.abbr, parts.day, parts.seq, parts.check) == (
        "510100",
        "QYQYDJ",
        DAY,
        42,
        "6",
    )
    assert parts.code == code


def test_quasigroup_is_latin_and_totally_anti_symmetric() -> None:
    """Exhaustive over all 36 states: this is the proof behind the property tests below.
    Latin (every row and column a permutation) catches every substitution; total
    anti-symmetry ((c*x)*y == (c*y)*x only if x == y) catches every adjacent swap."""
    n = len(ALPHABET)
    for s in range(n):
        assert sorted(_op(s, v) for v in range(n)) == list(range(n))
        assert sorted(_op(v, s) for v in range(n)) == list(range(n))
    for c in range(n):
        for x in range(n):
            for y in range(n):
                if x != y:
                    assert _op(_op(c, x), y) != _op(_op(c, y), x)


@given(payloads)
def test_check_character_verifies(payload: str) -> None:
    assert check_holds(_checked(payload))


@given(payloads, st.data())
def test_every_single_substitution_is_caught(payload: str, data: st.DataObject) -> None:
    full = _checked(payload)
    pos = data.draw(st.integers(0, len(full) - 1))
    new = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != full[pos]))
    assert not check_holds(full[:pos] + new + full[pos + 1 :])


@given(payloads, st.data())
def test_every_adjacent_transposition_is_caught(payload: str, data: st.DataObject) -> None:
    full = _checked(payload)
    pairs = [i for i in range(len(full) - 1) if full[i] != full[i + 1]]
    if not pairs:
        return
    i = data.draw(st.sampled_from(pairs))
    swapped = full[:i] + full[i + 1] + full[i] + full[i + 2 :]
    assert not check_holds(swapped)


@given(payloads.filter(lambda p: p[-1] != compute_check(p)))
def test_swap_of_last_payload_char_and_check_is_caught(payload: str) -> None:
    full = _checked(payload)
    assert not check_holds(full[:-2] + full[-1] + full[-2])


@given(case_codes(), st.data())
def test_any_substitution_in_a_case_code_is_rejected(code: str, data: st.DataObject) -> None:
    pos = data.draw(st.sampled_from([i for i, c in enumerate(code) if c != "-"]))
    new = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != code[pos]))
    assert not is_valid_case_code(code[:pos] + new + code[pos + 1 :])


@given(case_codes(), st.data())
def test_any_adjacent_transposition_in_a_case_code_is_rejected(
    code: str, data: st.DataObject
) -> None:
    """Swaps of payload characters with the hyphens removed, across hyphens too."""
    chars = [c for c in code if c != "-"]
    pairs = [i for i in range(len(chars) - 1) if chars[i] != chars[i + 1]]
    if not pairs:
        return
    i = data.draw(st.sampled_from(pairs))
    chars[i], chars[i + 1] = chars[i + 1], chars[i]
    it = iter(chars)
    swapped = "".join("-" if c == "-" else next(it) for c in code)
    assert not is_valid_case_code(swapped)


@given(regions, abbrs, days, seqs)
def test_format_parse_round_trip(region: str, abbr: str, day: date, seq: int) -> None:
    code = format_case_code(region=region, abbr=abbr, day=day, seq=seq)
    parts = parse_case_code(code)
    assert (parts.region, parts.abbr, parts.day, parts.seq) == (region, abbr, day, seq)
    assert parts.code == code


def _iso7064_mod37_36(payload: str) -> str:
    """ISO/IEC 7064 MOD 37,36 (hybrid), kept here to document why it was not used."""
    p = 36
    for ch in payload:
        s = (p + ALPHABET.index(ch)) % 36 or 36
        p = (s * 2) % 37
    return ALPHABET[(37 - p) % 36]


def test_iso7064_mod37_36_would_miss_a_transposition_we_catch() -> None:
    # The reference implementation agrees with the standard's published example...
    assert _iso7064_mod37_36("A12425GABC1234002") == "M"
    # ...and cannot tell sequence 00045 from 00054 on this day; ours can.
    right, swapped = "510100QYQYDJ2026112600045", "510100QYQYDJ2026112600054"
    assert _iso7064_mod37_36(right) == _iso7064_mod37_36(swapped)
    assert compute_check(right) != compute_check(swapped)


# --- format / parse errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("510100-QYQYDJ-20261126-00042", "wrong shape"),
        ("510100-QYQYDJ-20261126-00042-6-1", "wrong shape"),
        ("510100-qyqydj-20261126-00042-6", "wrong shape"),
        ("510100-Q-20261126-00042-6", "wrong shape"),
        ("510100-QYQYDJ-20261126-0042-6", "wrong shape"),
        ("510100QYQYDJ2026112600042-6", "wrong shape"),
        ("", "wrong shape"),
        ("51010A-QYQYDJ-20261126-00042-6", "bad region"),
        ("5101000-QYQYDJ-20261126-00042-6", "bad region"),
        ("990100-QYQYDJ-20261126-00042-6", "bad region"),
        ("51\u0660\u0661\u0660\u0660-QYQYDJ-20261126-00042-6", "bad region"),  # Arabic-Indic
        ("510100-QYQYDJ-20261126-\u0660\u0660\u0660\u0664\u0662-6", "wrong shape"),
        ("510100-QYQYDJ-2026\uff11\uff11\uff12\uff16-00042-6", "bad date"),  # full-width
        ("510100-QYQYDJ-20260230-00042-6", "bad date"),
        ("510100-QYQYDJ-2026112-00042-6", "bad date"),
        ("510100-QYQYDJ-20261126-00000-6", "bad sequence"),
        ("510100-QYQYDJ-20261126-00042-7", "bad check character: expected 6, got 7"),
        ("510100-QYQYDJ-20261126-00024-6", "bad check character"),
    ],
)
def test_parse_rejects_with_reason(code: str, reason: str) -> None:
    with pytest.raises(InvalidCaseCode, match=reason):
        parse_case_code(code)
    assert not is_valid_case_code(code)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"region": "51010"}, "6-digit"),
        ({"region": "000000"}, "province"),
        ({"abbr": "Qy"}, "uppercase"),
        ({"abbr": "ABCDEFGHI"}, "2-8"),
        ({"seq": 0}, "between 1 and 99999"),
        ({"seq": MAX_SEQ + 1}, "between 1 and 99999"),
    ],
)
def test_format_rejects_bad_parts(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"region": "510100", "abbr": "QYQYDJ", "day": DAY, "seq": 1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        format_case_code(**args)  # type: ignore[arg-type]  # parametrized values are object


def test_compute_check_rejects_foreign_characters() -> None:
    with pytest.raises(ValueError, match="character 3 '-'"):
        compute_check("51-0100")


def test_case_day_is_china_standard_time() -> None:
    assert case_day(datetime(2026, 11, 26, 15, 59, tzinfo=UTC)) == date(2026, 11, 26)
    assert case_day(datetime(2026, 11, 26, 16, 0, tzinfo=UTC)) == date(2026, 11, 27)
    with pytest.raises(ValueError, match="timezone-aware"):
        case_day(datetime(2026, 11, 26, 12, 0))


# --- allocation in the database --------------------------------------------------------


def test_allocation_counts_per_region_bundle_and_day(db_url: str) -> None:
    with session_scope(db_url) as s:
        a = [allocate_case_code(s, region="510100", abbr="QYQYDJ", day=DAY) for _ in range(3)]
        other_day = allocate_case_code(s, region="510100", abbr="QYQYDJ", day=date(2026, 11, 27))
        other_abbr = allocate_case_code(s, region="510100", abbr="GTZQY", day=DAY)
        other_region = allocate_case_code(s, region="500000", abbr="QYQYDJ", day=DAY)
    assert [parse_case_code(c).seq for c in a] == [1, 2, 3]
    assert a[0] == format_case_code(region="510100", abbr="QYQYDJ", day=DAY, seq=1)
    assert parse_case_code(other_day).seq == 1
    assert parse_case_code(other_abbr).seq == 1
    assert parse_case_code(other_region).seq == 1


def test_allocation_stops_after_99999_with_a_clear_error(db_url: str) -> None:
    with session_scope(db_url) as s:
        allocate_case_code(s, region="510100", abbr="QYQYDJ", day=DAY)
        s.connection().execute(
            sa.text("UPDATE case_code_sequence SET last_value = :v"), {"v": MAX_SEQ - 1}
        )
        s.commit()
        last = allocate_case_code(s, region="510100", abbr="QYQYDJ", day=DAY)
        assert parse_case_code(last).seq == MAX_SEQ
        with pytest.raises(CaseCodeExhausted, match=r"510100, bundle QYQYDJ on 2026-11-26"):
            allocate_case_code(s, region="510100", abbr="QYQYDJ", day=DAY)
        stored = s.connection().execute(sa.text("SELECT last_value FROM case_code_sequence"))
        assert stored.scalar_one() == MAX_SEQ


def test_allocation_validates_region_and_abbr(db_url: str) -> None:
    with session_scope(db_url) as s, pytest.raises(ValueError, match="6-digit"):
        allocate_case_code(s, region="5101", abbr="QYQYDJ", day=DAY)


def _seqs(codes: list[str]) -> list[int]:
    return sorted(parse_case_code(c).seq for c in codes)


def test_concurrent_threads_never_share_a_code(db_url: str) -> None:
    threads_n, per_thread = 8, 10
    barrier = threading.Barrier(threads_n)
    results: list[list[str]] = [[] for _ in range(threads_n)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with session_scope(db_url) as s:  # one session, one connection per thread
                for _ in range(per_thread):
                    results[i].append(
                        allocate_case_code(s, region="510100", abbr="QYQYDJ", day=DAY)
                    )
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    codes = [c for r in results for c in r]
    assert len(set(codes)) == len(codes) == threads_n * per_thread
    assert _seqs(codes) == list(range(1, threads_n * per_thread + 1))


def _allocate_in_process(url: str, n: int, barrier: Barrier, out: Queue[list[str]]) -> None:
    barrier.wait(timeout=60)
    with session_scope(url) as s:
        out.put([allocate_case_code(s, region="510100", abbr="QYQYDJ", day=DAY) for _ in range(n)])
    get_engine(url).dispose()


def test_concurrent_processes_never_share_a_code(db_url: str) -> None:
    procs_n, per_proc = 3, 15
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(procs_n)
    out: Queue[list[str]] = ctx.Queue()
    procs = [
        ctx.Process(target=_allocate_in_process, args=(db_url, per_proc, barrier, out))
        for _ in range(procs_n)
    ]
    for p in procs:
        p.start()
    try:
        codes = [c for _ in range(procs_n) for c in out.get(timeout=120)]
    finally:
        for p in procs:
            p.join(timeout=30)
    assert all(p.exitcode == 0 for p in procs)
    assert len(set(codes)) == len(codes) == procs_n * per_proc
    assert _seqs(codes) == list(range(1, procs_n * per_proc + 1))
