"""Custom search attributes for officers' case lists. None of them carries personal data."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CASE_STATUS = SearchAttributeKey.for_keyword("OnethingStatus")
CASE_BUNDLE = SearchAttributeKey.for_keyword("OnethingBundle")
CASE_BUNDLE_VERSION = SearchAttributeKey.for_int("OnethingBundleVersion")
CASE_REGION = SearchAttributeKey.for_keyword("OnethingRegion")
PENDING_DEPARTMENTS = SearchAttributeKey.for_keyword_list("OnethingPendingDepartments")
CASE_OVERDUE = SearchAttributeKey.for_bool("OnethingOverdue")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("OnethingDeadline")
SUBMITTED_AT = SearchAttributeKey.for_datetime("OnethingSubmittedAt")

ALL_KEYS: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]  # keys of mixed value types
    CASE_STATUS,
    CASE_BUNDLE,
    CASE_BUNDLE_VERSION,
    CASE_REGION,
    PENDING_DEPARTMENTS,
    CASE_OVERDUE,
    NEXT_DEADLINE,
    SUBMITTED_AT,
)
