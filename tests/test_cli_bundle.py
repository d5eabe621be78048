"""``onething bundle ...`` end to end against a temporary SQLite database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from onething.cli.bundle import app
from onething.db import get_engine
from onething.logs import configure_logging
from onething.settings import get_settings

DEPARTMENTS = """\
departments:
  - code: 510100.police
    name: 成都市公安局
    region: "510100"
  - code: 510100.civil
    name: 成都市民政局
    region: "510100"
"""

VALID = """\
# A small bundle; comments and formatting do not make new versions.
code: demo-bundle
abbr: DEMO
name: 演示一件事
kind: personal
applicant_type: person
promised_limit: {amount: 10, unit: working_days}
materials:
  - id: id-card
    name: 身份证
steps:
  - id: check
    item: 信息核验
    department: 510100.police
    mode: automatic
    materials: [id-card]
    time_limit: {amount: 1, unit: hours}
    on_timeout: reject
  - id: approve
    item: 婚姻登记审批
    department: 510100.civil
    mode: manual
    depends_on: [check]
    time_limit: {amount: 5, unit: working_days}
    warn_before: {amount: 1, unit: working_days}
    escalation:
      elevate_after: {amount: 2, unit: working_days}
    extension: {amount: 5, unit: working_days}
"""

# Line 14: unknown department; line 23: dependency on a step that does not exist.
INVALID = (
    VALID.replace("department: 510100.police", "department: 510100.polise")
    .replace("depends_on: [check]", "depends_on: [chek]")
    .replace("code: demo-bundle", "code: broken-bundle")
    .replace("abbr: DEMO", "abbr: BRKN")
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SQLite database and a department registry in tmp_path, seen through settings."""
    # As the root command does; unconfigured structlog would print to stdout.
    configure_logging(fmt="json")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ONETHING_DATABASE_URL", url)
    get_settings.cache_clear()
    (tmp_path / "departments.yaml").write_text(DEPARTMENTS, encoding="utf-8")
    (tmp_path / "valid.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "invalid.yaml").write_text(INVALID, encoding="utf-8")
    yield tmp_path
    get_engine(url).dispose()
    get_settings.cache_clear()


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def run_dept(tmp: Path, command: str, *args: str | Path) -> Result:
    return run(command, *args, "--departments", tmp / "departments.yaml")


def assert_clean_failure(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    # A failure is reported, never raised: no exception escaped the command.
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr


# --- validate ----------------------------------------------------------------------------


def test_validate_valid_file_exits_0(env: Path) -> None:
    result = run_dept(env, "validate", env / "valid.yaml")
    assert result.exit_code == 0, result.stderr
    assert f"ok {env / 'valid.yaml'} (demo-bundle)" in result.stdout


def test_validate_prints_every_error_with_location_and_exits_2(env: Path) -> None:
    result = run_dept(env, "validate", env / "valid.yaml", env / "invalid.yaml")
    assert_clean_failure(result, 2)
    errors = [line for line in result.stderr.splitlines() if line.startswith(str(env))]
    assert errors == [
        f"{env / 'invalid.yaml'}:14:17: steps[0].department: unknown department "
        "'510100.polise' (did you mean '510100.police'?)",
        f"{env / 'invalid.yaml'}:23:18: steps[1].depends_on[0]: depends on unknown step "
        "'chek' (did you mean 'check'?)",
    ]
    assert "2 error(s) in 2 file(s)" in result.stderr


def test_validate_directory_and_missing_file(env: Path) -> None:
    (env / "departments.yaml").rename(env / "departments.yml")  # keep the directory bundles-only
    ok = run(
        "validate", env / "valid.yaml", "--departments", env / "departments.yml"
    )  # sanity: still valid with the renamed registry
    assert ok.exit_code == 0, ok.stderr
    result = run("validate", env, "--departments", env / "departments.yml")
    assert_clean_failure(result, 2)  # the directory holds invalid.yaml too
    assert f"{env / 'invalid.yaml'}:14:17" in result.stderr
    missing = run("validate", env / "nope.yaml", "--departments", env / "departments.yml")
    assert_clean_failure(missing, 2)
    assert f"{env / 'nope.yaml'}: cannot read file" in missing.stderr


def test_invalid_department_registry_exits_2(env: Path) -> None:
    (env / "departments.yaml").write_text("departments:\n  - code: nope\n", encoding="utf-8")
    result = run_dept(env, "validate", env / "valid.yaml")
    assert_clean_failure(result, 2)
    assert f"{env / 'departments.yaml'}:2:" in result.stderr
    assert "the department registry is invalid" in result.stderr


def test_validate_through_the_console_script(env: Path) -> None:
    """The installed entry point wires ``bundle`` and keeps the exit code and stderr."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from onething.cli import main; main()",
            "bundle",
            "validate",
            str(env / "invalid.yaml"),
            "--departments",
            str(env / "departments.yaml"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ONETHING_LOG_FORMAT": "json"},
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert f"{env / 'invalid.yaml'}:14:17: steps[0].department" in result.stderr
    assert "Traceback" not in result.stderr


# --- publish -----------------------------------------------------------------------------


def test_publish_is_all_or_nothing(env: Path) -> None:
    result = run_dept(env, "publish", env / "valid.yaml", env / "invalid.yaml")
    assert_clean_failure(result, 2)
    assert "unknown department" in result.stderr
    listing = run("list", "--json")
    assert listing.exit_code == 0, listing.stderr
    assert json.loads(listing.stdout) == []


def test_publish_then_republish_with_only_comments_changed(env: Path) -> None:
    first = run_dept(env, "publish", env / "valid.yaml")
    assert first.exit_code == 0, first.stderr
    assert "published demo-bundle version 1" in first.stdout
    (env / "valid.yaml").write_text("# reformatted\n" + VALID + "\n\n", encoding="utf-8")
    again = run_dept(env, "publish", env / "valid.yaml")
    assert again.exit_code == 0, again.stderr
    assert "unchanged demo-bundle version 1 (identical content)" in again.stdout
    (env / "valid.yaml").write_text(VALID.replace("amount: 5, unit", "amount: 4, unit", 1))
    changed = run_dept(env, "publish", env / "valid.yaml")
    assert "published demo-bundle version 2" in changed.stdout


def test_publish_of_retired_content_says_it_stays_retired(env: Path) -> None:
    run_dept(env, "publish", env / "valid.yaml")
    assert run("retire", "demo-bundle", "1").exit_code == 0
    result = run_dept(env, "publish", env / "valid.yaml")
    assert result.exit_code == 0, result.stderr
    assert "identical and RETIRED; it stays retired" in result.stdout


# --- list / show / diff / retire ---------------------------------------------------------


def _publish_two_versions(env: Path) -> None:
    assert run_dept(env, "publish", env / "valid.yaml").exit_code == 0
    (env / "v2.yaml").write_text(
        VALID.replace(
            "amount: 5, unit: working_days}\n    w", "amount: 3, unit: working_days}\n    w"
        )
        .replace("department: 510100.civil", "department: 510100.police")
        .replace("depends_on: [check]", "depends_on: []"),
        encoding="utf-8",
    )
    assert run_dept(env, "publish", env / "v2.yaml").exit_code == 0


def test_list_readable_and_json(env: Path) -> None:
    empty = run("list")
    assert empty.exit_code == 0 and "no bundles published yet" in empty.stdout
    _publish_two_versions(env)
    table = run("list")
    assert table.exit_code == 0, table.stderr
    rows = table.stdout.splitlines()
    assert len(rows) == 2
    assert rows[0].startswith("demo-bundle  v1") and "active" in rows[0]
    assert rows[0].endswith("演示一件事")
    data = json.loads(run("list", "--json").stdout)
    assert [(d["code"], d["version"], d["status"]) for d in data] == [
        ("demo-bundle", 1, "active"),
        ("demo-bundle", 2, "active"),
    ]
    assert all(len(d["content_hash"]) == 64 and d["retired_at"] is None for d in data)


def test_show_readable_summary_names_departments(env: Path) -> None:
    _publish_two_versions(env)
    result = run_dept(env, "show", "demo-bundle", "--version", "1")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("演示一件事 (demo-bundle) version 1 [active]")
    assert "department: 成都市民政局 (510100.civil)" in out
    assert (
        "limit 5 working_days, warn 1 working_days before, on timeout escalate "
        "(督办 at deadline, 提级 +2 working_days), extension 5 working_days"
    ) in out
    assert "after: check" in out
    assert "id-card: 身份证" in out


def test_show_defaults_to_latest_active_and_json_parses(env: Path) -> None:
    _publish_two_versions(env)
    latest = json.loads(run("show", "demo-bundle", "--json").stdout)
    assert latest["version"] == 2
    assert latest["definition"]["steps"][1]["time_limit"] == {
        "amount": 3,
        "unit": "working_days",
    }
    assert run("retire", "demo-bundle", "2").exit_code == 0
    after = json.loads(run("show", "demo-bundle", "--json").stdout)
    assert after["version"] == 1 and after["status"] == "active"
    retired = json.loads(run("show", "demo-bundle", "--version", "2", "--json").stdout)
    assert retired["status"] == "retired" and retired["retired_at"] is not None


def test_show_without_department_registry_falls_back_to_codes(env: Path) -> None:
    _publish_two_versions(env)
    result = run("show", "demo-bundle", "--departments", env / "missing.yaml")
    assert result.exit_code == 0, result.stderr
    assert "department: 510100.police" in result.stdout
    assert "warning: department names unavailable" in result.stderr


def test_diff_between_versions(env: Path) -> None:
    _publish_two_versions(env)
    result = run("diff", "demo-bundle", "1", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "demo-bundle: version 1 -> version 2",
        "~ step approve: department 510100.civil -> 510100.police",
        "~ step approve: depends_on -check",
        "~ step approve: time_limit 5 working_days -> 3 working_days",
    ]
    same = run("diff", "demo-bundle", "2", "2")
    assert same.stdout.splitlines()[-1] == "no differences"


def test_retire_reports_what_new_cases_use(env: Path) -> None:
    _publish_two_versions(env)
    first = run("retire", "demo-bundle", "2")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.splitlines() == [
        "retired demo-bundle version 2",
        "new cases use demo-bundle version 1",
    ]
    again = run("retire", "demo-bundle", "2")
    assert "was already retired" in again.stdout
    last = run("retire", "demo-bundle", "1")
    assert last.exit_code == 0
    assert "no active version left; new cases cannot start" in last.stderr
    none_active = run("show", "demo-bundle")
    assert_clean_failure(none_active, 1)
    assert "error: bundle 'demo-bundle' has no active version" in none_active.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("show", "nope"),
        ("show", "demo-bundle", "--version", "9"),
        ("diff", "demo-bundle", "1", "9"),
        ("retire", "demo-bundle", "9"),
        ("retire", "nope", "1"),
    ],
)
def test_unknown_code_or_version_exits_1_with_message(env: Path, args: tuple[str, ...]) -> None:
    _publish_two_versions(env)
    result = run(*args)
    assert_clean_failure(result, 1)
    assert result.stderr.startswith("error: bundle '")
    assert ("has no version 9" in result.stderr) or ("never been published" in result.stderr)


def test_unreachable_database_exits_1(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONETHING_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    result = run("list")
    assert_clean_failure(result, 1)
    assert result.stderr.startswith("error: database error: OperationalError")
