from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from definitions.schema import ApplicantType
from onething.identifiers import (
    PROVINCES,
    RID_CHECK,
    USCC_ALPHABET,
    InvalidIdentifier,
    resident_id_check_char,
    uscc_check_char,
    validate_applicant,
    validate_resident_id,
    validate_uscc,
)

TODAY = date(2026, 11, 26)
GB11643_SAMPLE = "11010519491231002X"  # the standard's own example
USCC_SAMPLE = "91350100M000100Y43"  # a public example (Fujian)


def rid(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    place = draw(st.sampled_from(sorted(PROVINCES))) + draw(
        st.text(alphabet="0123456789", min_size=4, max_size=4)
    )
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    serial = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    return rid(f"{place}{birth:%Y%m%d}{serial}")


@st.composite
def usccs(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from("123456789ANY"))
    rest = draw(st.text(alphabet=USCC_ALPHABET, min_size=16, max_size=16))
    return uscc(first + rest)


# --- resident IDs ----------------------------------------------------------------------


def test_gb11643_sample_and_lowercase_x() -> None:
    check = validate_resident_id(GB11643_SAMPLE, today=TODAY)
    assert check.value == GB11643_SAMPLE
    assert check.birth_date == date(1949, 12, 31)
    assert check.kind == "resident"
    assert check.warnings == []
    assert validate_resident_id(" 11010519491231002x ", today=TODAY).value == GB11643_SAMPLE
    assert resident_id_check_char(GB11643_SAMPLE[:17]) == "X"


@pytest.mark.parametrize(
    ("first17", "kind"),
    [
        ("81000019900101123", "hmt_residence_permit"),  # Hong Kong resident permit
        ("82000020000229456", "hmt_residence_permit"),  # Macao, born on a leap day
        ("83000019750615789", "hmt_residence_permit"),  # Taiwan
        ("95184019850315123", "foreign_permanent_resident"),  # 2023 format, issued in Sichuan
        ("93115620010704001", "foreign_permanent_resident"),  # issued in Shanghai
        ("51220119700101002", "resident"),  # an old Chongqing code from Sichuan days
        ("50010119900307151", "resident"),  # Chongqing
    ],
)
def test_accepts_permits_permanent_residence_and_old_codes(first17: str, kind: str) -> None:
    check = validate_resident_id(rid(first17), today=TODAY)
    assert check.kind == kind
    assert check.warnings == []


def test_unknown_place_codes_only_warn() -> None:
    check = validate_resident_id(rid("19010119900101001"), today=TODAY)
    assert check.kind == "resident"
    assert check.warnings and "unknown province-level place code 19" in check.warnings[0]
    foreign = validate_resident_id(rid("99984019850315123"), today=TODAY)
    assert foreign.kind == "foreign_permanent_resident"
    assert "issuing-province code 99" in foreign.warnings[0]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1101051949123100", "must have 18 characters, got 16"),
        ("110105491231002", "15-digit first-generation"),
        ("11010519491231002XX", "got 19"),
        ("1101051949A231002X", "character 11 'A' must be a digit"),
        ("11010519491231002Y", "character 18 'Y' must be a digit or X"),
        ("\uff11\uff11010519491231002X", "character 1 '１' must be a digit"),  # full-width
        ("110105194912310021", "check character expected X, got 1"),
        (rid("11010519490230002"), r"impossible birth date 1949-02-30"),
        (rid("11010519000229002"), r"impossible birth date 1900-02-29"),
        (rid("11010518991231002"), r"before 1900"),
        (rid("11010520261127002"), r"birth date 2026-11-27 is in the future"),
        (rid("11010519491331002"), r"impossible birth date 1949-13-31"),
    ],
)
def test_resident_id_errors_name_the_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as info:
        validate_resident_id(value, today=TODAY)
    assert str(info.value).startswith("invalid resident ID: ")
    assert value.strip() not in str(info.value)  # personal data stays out of messages


def test_field_name_in_message_and_value_hidden_from_repr() -> None:
    with pytest.raises(InvalidIdentifier, match=r"^applicant_id: invalid resident ID: "):
        validate_resident_id("123", field="applicant_id")
    check = validate_resident_id(GB11643_SAMPLE, today=TODAY)
    assert GB11643_SAMPLE not in repr(check)


def test_today_is_the_default_reference_for_future_births() -> None:
    tomorrow = date.today() + timedelta(days=2)
    with pytest.raises(InvalidIdentifier, match="in the future"):
        validate_resident_id(rid(f"110105{tomorrow:%Y%m%d}002"))


@given(resident_ids(), st.data())
def test_any_single_substitution_of_a_resident_id_fails(value: str, data: st.DataObject) -> None:
    assert validate_resident_id(value, today=TODAY).value == value
    pos = data.draw(st.integers(0, 17))
    new = data.draw(st.sampled_from("0123456789X").filter(lambda c: c != value[pos]))
    with pytest.raises(InvalidIdentifier):
        validate_resident_id(value[:pos] + new + value[pos + 1 :], today=TODAY)


def test_check_alphabet_is_gb11643() -> None:
    assert RID_CHECK == "10X98765432"


# --- unified social credit codes --------------------------------------------------------


@pytest.mark.parametrize(
    "first17",
    [
        "N2110000MA0000001",  # agriculture (农民专业合作社)
        "A1000000MB1234567",  # Central Military Commission
        "Y1510100MA6CXXXX0",  # other authorities
        "92510100MA61234XY",  # individual business
        "5351000050000000K",  # civil affairs (social organisation)
        "1210000040000000P",  # government institution
    ],
)
def test_uscc_accepts_every_authority_and_non_digit_regions(first17: str) -> None:
    value = uscc(first17)
    assert validate_uscc(value).value == value
    assert validate_uscc(value.lower()).value == value


def test_uscc_public_example() -> None:
    assert validate_uscc(USCC_SAMPLE).value == USCC_SAMPLE
    assert uscc_check_char(USCC_SAMPLE[:17]) == "3"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91350100M000100Y4", "must have 18 characters, got 17"),
        ("91350100M000100Y44", "check character expected 3, got 4"),
        ("91350100M00010OY43", "character 15 'O' is not allowed"),
        ("91350100I000100Y43", "character 9 'I' is not allowed"),
        ("9135010SM000100Y43", "character 8 'S' is not allowed"),
        ("01350100M000100Y43", "character 1 '0' is not a registering-authority code"),
        ("B1350100M000100Y43", "character 1 'B' is not a registering-authority code"),
        ("91350100M000100Y4-", "character 18 '-' is not allowed"),
    ],
)
def test_uscc_errors_name_the_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as info:
        validate_uscc(value)
    assert str(info.value).startswith("invalid unified social credit code: ")


@given(usccs(), st.data())
def test_any_single_substitution_of_a_uscc_fails(value: str, data: st.DataObject) -> None:
    assert validate_uscc(value).value == value
    pos = data.draw(st.integers(0, 17))
    new = data.draw(st.sampled_from(USCC_ALPHABET).filter(lambda c: c != value[pos]))
    with pytest.raises(InvalidIdentifier):
        validate_uscc(value[:pos] + new + value[pos + 1 :])


# --- by applicant type ------------------------------------------------------------------


def test_applicant_by_type() -> None:
    person = validate_applicant(ApplicantType.person, GB11643_SAMPLE, today=TODAY)
    assert (person.kind, person.birth_date) == ("resident_id", date(1949, 12, 31))
    company = validate_applicant(ApplicantType.enterprise, USCC_SAMPLE)
    assert (company.kind, company.birth_date) == ("uscc", None)
    with pytest.raises(InvalidIdentifier, match=r"^applicant_id: invalid resident ID"):
        validate_applicant(ApplicantType.person, USCC_SAMPLE, today=TODAY)
    with pytest.raises(InvalidIdentifier, match=r"^applicant_id: invalid unified social"):
        validate_applicant(ApplicantType.enterprise, GB11643_SAMPLE)
    assert GB11643_SAMPLE not in repr(person)


def test_either_accepts_whichever_validates() -> None:
    assert validate_applicant(ApplicantType.either, GB11643_SAMPLE, today=TODAY).kind == (
        "resident_id"
    )
    assert validate_applicant(ApplicantType.either, USCC_SAMPLE, today=TODAY).kind == "uscc"
    with pytest.raises(InvalidIdentifier) as info:
        validate_applicant(ApplicantType.either, "91350100M000100Y44", field="id", today=TODAY)
    message = str(info.value)
    assert message.startswith("id: invalid applicant ID: neither a resident ID (")
    assert "nor a unified social credit code (check character expected 3, got 4)" in message


def test_either_warns_when_a_value_is_valid_as_both() -> None:
    both = None
    for serial in range(1000):
        first17 = f"51010019900101{serial:03d}"
        if resident_id_check_char(first17) == uscc_check_char(first17):
            both = first17 + resident_id_check_char(first17)
            break
    assert both is not None
    result = validate_applicant(ApplicantType.either, both, today=TODAY)
    assert result.kind == "resident_id"
    assert any("also a valid unified social credit code" in w for w in result.warnings)
