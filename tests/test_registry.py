"""The versioned registry on SQLite and PostgreSQL, and the step-level diff between versions."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlmodel import select

from definitions.schema import Bundle
from onething import registry
from onething.bundle_diff import Change, diff, render
from onething.db import session_scope
from onething.models import BundleVersion, VersionStatus


def bundle_data(code: str = "demo-bundle", *, limit: int = 5, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": code,
        "abbr": "DEMO",
        "name": "演示一件事",
        "kind": "personal",
        "applicant_type": "person",
        "promised_limit": {"amount": 10, "unit": "working_days"},
        "materials": [{"id": "id-card", "name": "身份证"}],
        "steps": [
            {
                "id": "check",
                "item": "信息核验",
                "department": "510100.police",
                "mode": "automatic",
                "materials": ["id-card"],
                "time_limit": {"amount": 1, "unit": "hours"},
                "on_timeout": "reject",
            },
            {
                "id": "approve",
                "item": "审批",
                "department": "510100.civil",
                "mode": "manual",
                "depends_on": ["check"],
                "time_limit": {"amount": limit, "unit": "working_days"},
                "escalation": {"elevate_after": {"amount": 2, "unit": "working_days"}},
            },
        ],
    }
    data.update(overrides)
    return data


def make_bundle(code: str = "demo-bundle", *, limit: int = 5, **overrides: Any) -> Bundle:
    return Bundle.model_validate(bundle_data(code, limit=limit, **overrides))


# --- content hash ----------------------------------------------------------------------


def test_content_hash_ignores_key_order_but_not_content() -> None:
    data = bundle_data()
    reordered = dict(reversed(list(data.items())))
    assert registry.content_hash(Bundle.model_validate(reordered)) == registry.content_hash(
        Bundle.model_validate(data)
    )
    assert registry.content_hash(make_bundle(limit=6)) != registry.content_hash(make_bundle())
    assert len(registry.content_hash(make_bundle())) == 64


def test_content_hash_counts_defaults_explicitly_written_as_equal() -> None:
    # "on_timeout: escalate" written out or left to the default is the same definition.
    data = bundle_data()
    data["steps"][1]["on_timeout"] = "escalate"
    assert registry.content_hash(Bundle.model_validate(data)) == registry.content_hash(
        make_bundle()
    )


# --- publish ---------------------------------------------------------------------------


def test_publish_numbers_versions_per_code(db_url: str) -> None:
    with session_scope(db_url) as s:
        versions = [
            registry.publish(s, bundle=make_bundle(limit=n)).version.version for n in (5, 6, 7)
        ]
        other = registry.publish(s, bundle=make_bundle("other-bundle")).version
    assert versions == [1, 2, 3]
    assert other.version == 1


def test_publish_identical_content_returns_existing_version(db_url: str) -> None:
    with session_scope(db_url) as s:
        first = registry.publish(s, bundle=make_bundle(), source_yaml="# v1\n")
        again = registry.publish(s, bundle=make_bundle(), source_yaml="# comment changed\n")
        rows = registry.list_versions(s, code="demo-bundle")
    assert first.created and not again.created
    assert again.version.id == first.version.id
    assert again.version.source_yaml == "# v1\n"  # the stored version is immutable
    assert len(rows) == 1


def test_publish_stores_definition_and_metadata(db_url: str) -> None:
    bundle = make_bundle()
    with session_scope(db_url) as s:
        result = registry.publish(s, bundle=bundle, source_yaml="code: demo-bundle\n")
    with session_scope(db_url) as s:
        row = registry.get_version(s, code="demo-bundle", version=1)
    assert row.name == "演示一件事"
    assert row.status == VersionStatus.active
    assert row.content_hash == registry.content_hash(bundle)
    assert row.source_yaml == "code: demo-bundle\n"
    assert row.published_at is not None and row.retired_at is None
    assert registry.load_definition(row) == bundle
    assert result.version.version == 1


def test_republishing_retired_content_returns_it_still_retired(db_url: str) -> None:
    with session_scope(db_url) as s:
        registry.publish(s, bundle=make_bundle(limit=5))
        registry.publish(s, bundle=make_bundle(limit=6))
        registry.retire(s, code="demo-bundle", version=1)
        result = registry.publish(s, bundle=make_bundle(limit=5))
        latest = registry.get_version(s, code="demo-bundle")
    assert not result.created
    assert result.retired
    assert result.version.version == 1
    assert result.version.status == VersionStatus.retired
    assert latest.version == 2


# --- resolution, retire, not found -----------------------------------------------------


def test_latest_active_version_skips_retired_ones(db_url: str) -> None:
    with session_scope(db_url) as s:
        for n in (5, 6, 7):
            registry.publish(s, bundle=make_bundle(limit=n))
        assert registry.get_version(s, code="demo-bundle").version == 3
        registry.retire(s, code="demo-bundle", version=3)
        assert registry.get_version(s, code="demo-bundle").version == 2
        # Retiring an older version does not change what new cases resolve to.
        registry.retire(s, code="demo-bundle", version=1)
        assert registry.get_version(s, code="demo-bundle").version == 2
        # An explicit version is still readable once retired (running cases, diffs).
        retired = registry.get_version(s, code="demo-bundle", version=3)
        assert retired.status == VersionStatus.retired
        assert registry.load_definition(retired).steps[1].time_limit.amount == 7


def test_retire_sets_status_and_time_once(db_url: str) -> None:
    with session_scope(db_url) as s:
        registry.publish(s, bundle=make_bundle())
        first = registry.retire(s, code="demo-bundle", version=1)
        retired_at = first.version.retired_at
        second = registry.retire(s, code="demo-bundle", version=1)
    assert first.changed and not second.changed
    assert retired_at is not None
    assert second.version.retired_at == retired_at
    with session_scope(db_url) as s:
        row = s.exec(select(BundleVersion)).one()
    assert row.status == VersionStatus.retired


def test_no_active_version_left_is_not_found(db_url: str) -> None:
    with session_scope(db_url) as s:
        registry.publish(s, bundle=make_bundle(limit=5))
        registry.publish(s, bundle=make_bundle(limit=6))
        registry.retire(s, code="demo-bundle", version=1)
        registry.retire(s, code="demo-bundle", version=2)
        with pytest.raises(registry.NotFoundError, match=r"'demo-bundle' has no active version"):
            registry.get_version(s, code="demo-bundle")


def test_unknown_code_and_version_are_not_found(db_url: str) -> None:
    with session_scope(db_url) as s:
        with pytest.raises(registry.NotFoundError, match=r"'nope' has never been published"):
            registry.get_version(s, code="nope")
        with pytest.raises(registry.NotFoundError, match=r"'nope' has never been published"):
            registry.retire(s, code="nope", version=1)
        registry.publish(s, bundle=make_bundle())
        with pytest.raises(
            registry.NotFoundError, match=r"'demo-bundle' has no version 4 \(published versions: 1"
        ):
            registry.get_version(s, code="demo-bundle", version=4)
    assert issubclass(registry.NotFoundError, registry.RegistryError)


def test_list_versions_orders_and_filters(db_url: str) -> None:
    with session_scope(db_url) as s:
        registry.publish(s, bundle=make_bundle("zeta-bundle"))
        registry.publish(s, bundle=make_bundle("alpha-bundle", limit=5))
        registry.publish(s, bundle=make_bundle("alpha-bundle", limit=6))
        everything = [(r.code, r.version) for r in registry.list_versions(s)]
        alpha = [r.version for r in registry.list_versions(s, code="alpha-bundle")]
        none = registry.list_versions(s, code="missing")
    assert everything == [("alpha-bundle", 1), ("alpha-bundle", 2), ("zeta-bundle", 1)]
    assert alpha == [1, 2]
    assert none == []


# --- concurrency -----------------------------------------------------------------------


def _publish_concurrently(db_url: str, bundles: list[Bundle]) -> list[registry.PublishResult]:
    """Every bundle published from its own thread and session, all released at once."""
    barrier = threading.Barrier(len(bundles))
    results: list[registry.PublishResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(bundle: Bundle) -> None:
        try:
            barrier.wait(timeout=30)
            with session_scope(db_url) as s:
                result = registry.publish(s, bundle=bundle)
            with lock:
                results.append(result)
        except BaseException as exc:  # collected and re-raised in the test thread
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in bundles]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == len(bundles)
    return results


def test_concurrent_publishes_of_different_content_get_distinct_numbers(db_url: str) -> None:
    results = _publish_concurrently(db_url, [make_bundle(limit=n) for n in range(1, 7)])
    assert sorted(r.version.version for r in results) == [1, 2, 3, 4, 5, 6]
    assert all(r.created for r in results)
    with session_scope(db_url) as s:
        limits = {
            r.version: registry.load_definition(r).steps[1].time_limit.amount
            for r in registry.list_versions(s, code="demo-bundle")
        }
    assert sorted(limits.values()) == [1, 2, 3, 4, 5, 6]


def test_concurrent_publishes_of_identical_content_create_one_version(db_url: str) -> None:
    results = _publish_concurrently(db_url, [make_bundle() for _ in range(6)])
    assert sum(r.created for r in results) == 1
    assert {r.version.version for r in results} == {1}
    with session_scope(db_url) as s:
        assert len(registry.list_versions(s)) == 1


# --- diff ------------------------------------------------------------------------------


def test_diff_of_identical_bundles_is_empty() -> None:
    assert diff(make_bundle(), make_bundle()) == []


def test_diff_reports_step_field_changes_readably() -> None:
    old = make_bundle()
    data = bundle_data(limit=3)
    approve = data["steps"][1]
    approve["department"] = "510100.market"
    approve["warn_before"] = {"amount": 1, "unit": "working_days"}
    approve["extension"] = {"amount": 10, "unit": "working_days"}
    approve["escalation"] = {
        "supervise_after": {"amount": 1, "unit": "working_days"},
        "elevate_after": {"amount": 3, "unit": "working_days"},
    }
    data["steps"][0]["on_timeout"] = "deem_approved"
    data["steps"][0]["mode"] = "manual"
    lines = render(diff(old, Bundle.model_validate(data)))
    assert lines == [
        "~ step check: mode automatic -> manual",
        "~ step check: on_timeout reject -> deem_approved",
        "~ step approve: department 510100.civil -> 510100.market",
        "~ step approve: time_limit 5 working_days -> 3 working_days",
        "~ step approve: warn_before none -> 1 working_days",
        "~ step approve: escalation 督办 at deadline, 提级 +2 working_days -> "
        "督办 +1 working_days, 提级 +3 working_days",
        "~ step approve: extension none -> 10 working_days",
    ]


def test_diff_reports_added_and_removed_steps_and_dependencies() -> None:
    data = bundle_data()
    data["materials"].append({"id": "photo", "name": "照片", "required": False})
    data["steps"][1]["depends_on"] = ["notify"]
    data["steps"][1]["materials"] = ["photo"]
    data["steps"] = [
        data["steps"][1],
        {
            "id": "notify",
            "item": "告知",
            "department": "510100.police",
            "mode": "automatic",
            "materials": ["id-card"],
            "time_limit": {"amount": 2, "unit": "hours"},
            "on_timeout": "deem_approved",
        },
    ]
    changes = diff(make_bundle(), Bundle.model_validate(data))
    lines = render(changes)
    assert "+ material photo: added (照片, optional)" in lines
    assert "- step check: removed" in lines
    assert "+ step notify: added (510100.police, automatic, 2 hours)" in lines
    assert "~ step approve: depends_on +notify -check" in lines
    assert "~ step approve: materials +photo" in lines
    assert all(isinstance(c, Change) for c in changes)


def test_diff_reports_bundle_level_changes() -> None:
    new = make_bundle(
        name="新名称一件事",
        promised_limit={"amount": 8, "unit": "working_days"},
        description="long text that is not repeated in the diff",
        form=[{"name": "phone", "label": "手机号", "type": "phone"}],
    )
    lines = render(diff(make_bundle(), new))
    assert lines == [
        "~ bundle: name 演示一件事 -> 新名称一件事",
        "~ bundle: promised_limit 10 working_days -> 8 working_days",
        "~ bundle: description changed",
        "+ field phone: added (手机号, phone, required)",
    ]
    assert render(diff(new, make_bundle()))[-1] == "- field phone: removed"
