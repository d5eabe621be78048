"""Applicant identifiers: 居民身份证号 (GB 11643-1999) and 统一社会信用代码 (GB 32100-2015).

The algorithms are written here because ``python-stdnum`` rejects valid numbers: it checks
resident-ID place codes against a fixed table (old Chongqing codes, 81/82/83 permits and
9xxxxx permanent-residence IDs fail) and requires the first 8 USCC characters to be digits
(N-, A- and Y-prefixed codes fail). Here a resident ID must pass its checksum and carry a
possible birth date; an unknown place code only warns, since division codes change over
time. A USCC must pass the GB 32100 alphabet, registering-authority and checksum rules; the
entity type (position 2) is never inferred, because a converted sole proprietorship keeps
its old code.

Identifier values are personal data: error messages name positions and characters, never
the whole value, and the models hide the value from ``repr``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from definitions.schema import ApplicantType

CST = ZoneInfo("Asia/Shanghai")

# Province-level division codes (行政区划代码, first two digits): the 31 mainland
# provinces, Taiwan (71), Hong Kong (81) and Macao (82).
PROVINCES: dict[str, str] = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东",
    "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏",
    "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆",
    "71": "台湾", "81": "香港", "82": "澳门",
}  # fmt: skip

# Residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证).
PERMIT_PREFIXES = {"81": "Hong Kong", "82": "Macao", "83": "Taiwan"}

RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RID_CHECK = "10X98765432"
# No living person was born before this; an earlier date is a typo, not an old applicant.
EARLIEST_BIRTH = date(1900, 1, 1)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registering authority (登记管理部门): 1-9, A (编制 of the Central Military Commission),
# N (agriculture), Y (others).
USCC_AUTHORITIES = "123456789ANY"

ResidentIdKind = Literal["resident", "hmt_residence_permit", "foreign_permanent_resident"]


def is_known_province(prefix: str) -> bool:
    """True for a known province-level division code (first two digits of a region code)."""
    return prefix in PROVINCES


class InvalidIdentifier(ValueError):  # noqa: N818  # name fixed by the issue's API
    """An identifier that fails its standard; the message names the reason (never the value)."""

    def __init__(self, kind: str, reason: str, *, field: str | None = None) -> None:
        self.kind = kind
        self.reason = reason
        self.field = field
        prefix = f"{field}: " if field else ""
        super().__init__(f"{prefix}invalid {kind}: {reason}")


class IdCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str = Field(repr=False)  # normalized: uppercase X
    kind: ResidentIdKind
    birth_date: date
    warnings: list[str] = Field(default_factory=list)


class UsccCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str = Field(repr=False)  # normalized: uppercase
    warnings: list[str] = Field(default_factory=list)


class ApplicantId(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["resident_id", "uscc"]
    value: str = Field(repr=False)
    birth_date: date | None = None  # resident IDs only
    warnings: list[str] = Field(default_factory=list)


def resident_id_check_char(first17: str) -> str:
    """GB 11643 check character of the first 17 digits."""
    return RID_CHECK[sum(int(c) * w for c, w in zip(first17, RID_WEIGHTS, strict=True)) % 11]


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character of the first 17 characters."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _cst_today() -> date:
    return datetime.now(CST).date()


def _place_warnings(value: str) -> tuple[ResidentIdKind, list[str]]:
    if value[:2] in PERMIT_PREFIXES:
        return "hmt_residence_permit", []
    if value[0] == "9":
        # 2023 format: 9, the issuing province, then a nationality code.
        if value[1:3] in PROVINCES:
            return "foreign_permanent_resident", []
        return "foreign_permanent_resident", [
            f"unknown issuing-province code {value[1:3]} in a permanent-residence ID "
            "(characters 2-3); accepted because division codes change over time"
        ]
    if value[:2] in PROVINCES:
        return "resident", []
    return "resident", [
        f"unknown province-level place code {value[:2]} (characters 1-2); accepted because "
        "division codes change over time"
    ]


def validate_resident_id(
    value: str, *, today: date | None = None, field: str | None = None
) -> IdCheck:
    """Validate an 18-character resident ID, HMT residence permit or permanent-residence ID.

    Surrounding whitespace is ignored and a lowercase ``x`` check character becomes ``X``.
    """
    kind = "resident ID"

    def fail(reason: str) -> InvalidIdentifier:
        return InvalidIdentifier(kind, reason, field=field)

    v = value.strip().upper()
    if len(v) != 18:
        old = " (15-digit first-generation IDs are no longer valid)" if len(v) == 15 else ""
        raise fail(f"must have 18 characters, got {len(v)}{old}")
    for pos, ch in enumerate(v[:17], start=1):
        if not ("0" <= ch <= "9"):
            raise fail(f"character {pos} {ch!r} must be a digit")
    if not ("0" <= v[17] <= "9" or v[17] == "X"):
        raise fail(f"character 18 {v[17]!r} must be a digit or X")
    raw_birth = v[6:14]
    try:
        birth = datetime.strptime(raw_birth, "%Y%m%d").date()
    except ValueError:
        raise fail(
            f"impossible birth date {raw_birth[:4]}-{raw_birth[4:6]}-{raw_birth[6:]} "
            "(characters 7-14)"
        ) from None
    if birth < EARLIEST_BIRTH:
        raise fail(f"impossible birth date {birth} (before {EARLIEST_BIRTH.year})")
    if birth > (today or _cst_today()):
        raise fail(f"birth date {birth} is in the future")
    expected = resident_id_check_char(v[:17])
    if v[17] != expected:
        raise fail(f"check character expected {expected}, got {v[17]}")
    id_kind, warnings = _place_warnings(v)
    return IdCheck(value=v, kind=id_kind, birth_date=birth, warnings=warnings)


def validate_uscc(value: str, *, field: str | None = None) -> UsccCheck:
    """Validate a unified social credit code; letters are accepted in any case."""
    kind = "unified social credit code"

    def fail(reason: str) -> InvalidIdentifier:
        return InvalidIdentifier(kind, reason, field=field)

    v = value.strip().upper()
    if len(v) != 18:
        raise fail(f"must have 18 characters, got {len(v)}")
    for pos, ch in enumerate(v, start=1):
        if ch not in USCC_ALPHABET:
            raise fail(
                f"character {pos} {ch!r} is not allowed (digits and uppercase letters "
                "except I, O, Z, S, V)"
            )
    if v[0] not in USCC_AUTHORITIES:
        raise fail(f"character 1 {v[0]!r} is not a registering-authority code (1-9, A, N or Y)")
    expected = uscc_check_char(v[:17])
    if v[17] != expected:
        raise fail(f"check character expected {expected}, got {v[17]}")
    return UsccCheck(value=v)


def validate_applicant(
    applicant_type: ApplicantType,
    value: str,
    *,
    today: date | None = None,
    field: str = "applicant_id",
) -> ApplicantId:
    """Validate the applicant's identifier as the bundle's applicant type requires.

    For ``either``, a value valid as both (possible only for an all-digit code) is taken as
    a resident ID, with a warning saying so.
    """
    if applicant_type is ApplicantType.person:
        rid = validate_resident_id(value, today=today, field=field)
        return ApplicantId(
            kind="resident_id", value=rid.value, birth_date=rid.birth_date, warnings=rid.warnings
        )
    if applicant_type is ApplicantType.enterprise:
        code = validate_uscc(value, field=field)
        return ApplicantId(kind="uscc", value=code.value, warnings=code.warnings)
    try:
        rid = validate_resident_id(value, today=today)
    except InvalidIdentifier as rid_error:
        try:
            code = validate_uscc(value)
        except InvalidIdentifier as uscc_error:
            raise InvalidIdentifier(
                "applicant ID",
                f"neither a resident ID ({rid_error.reason}) nor a unified social credit "
                f"code ({uscc_error.reason})",
                field=field,
            ) from None
        return ApplicantId(kind="uscc", value=code.value, warnings=code.warnings)
    warnings = list(rid.warnings)
    try:
        validate_uscc(value)
        warnings.append("also a valid unified social credit code; taken as a resident ID")
    except InvalidIdentifier:
        pass
    return ApplicantId(
        kind="resident_id", value=rid.value, birth_date=rid.birth_date, warnings=warnings
    )
