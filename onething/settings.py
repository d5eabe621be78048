"""Process settings, read once from ``ONETHING_*`` environment variables (and ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AdapterConfig(BaseModel):
    """How one department's activities reach the department: the built-in inbox (officers
    decide through `onething case decide`), deterministic data-sharing rules, or the
    department's own system over HTTP."""

    kind: Literal["inbox", "rules", "http"]
    url: str | None = None  # http only: the endpoint that receives the step JSON
    timeout_seconds: float = 10.0


class ApiIdentity(BaseModel):
    """Who a bearer token stands for (onething/api/auth.py). Officers and supervisors act for
    one department; an applicant sees the cases of one ID number (matched by its sha256)."""

    subject: str = Field(min_length=1)
    role: Literal["applicant", "officer", "supervisor", "admin"]
    department: str | None = None
    applicant_id: str | None = None

    @model_validator(mode="after")
    def _scope(self) -> ApiIdentity:
        if self.role in ("officer", "supervisor") and not self.department:
            raise ValueError(f"department: required for role {self.role}")
        if self.role == "applicant" and not self.applicant_id:
            raise ValueError("applicant_id: required for role applicant")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONETHING_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # Settings hold secrets (tokens, keys, passwords in URLs): an error names the field and
        # the reason, never the value, because it ends up in container logs.
        hide_input_in_errors=True,
    )

    # The embedded dev server listens here; production points it at the cluster frontend.
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233

    data_dir: Path = Path(".onething")
    # Empty means "SQLite file under data_dir"; any SQLAlchemy URL works (PostgreSQL in production).
    database_url: str = ""

    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: str = "INFO"

    # A year chinesecalendar has no data for fails loudly unless an operator opts into
    # a weekday-only rule (which is then logged on every deadline it produces).
    calendar_weekday_fallback: bool = False

    # Per department code; a department not listed uses the inbox for manual steps and the
    # rules for automatic ones. JSON in ONETHING_DEPARTMENT_ADAPTERS.
    department_adapters: dict[str, AdapterConfig] = Field(default_factory=dict)

    # Payload encryption (onething/codec.py). JSON {"key id": "<base64 of 32 bytes>"}; the active
    # id encrypts, every listed key decrypts, so rotation = add a key, switch the id, keep the old.
    encryption_keys: dict[str, SecretStr] = Field(default_factory=dict)
    encryption_key_id: str = ""
    # Codec endpoint for the Temporal Web UI (onething/codec_server.py).
    codec_server_host: str = "127.0.0.1"
    codec_server_port: int = 8888
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8233", "http://localhost:8080"]
    )
    codec_auth_token: SecretStr | None = None

    # TLS / mTLS to a production cluster (onething/temporal.py).
    temporal_tls: bool = False
    temporal_tls_ca: Path | None = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: SecretStr | None = None

    # HTTP API (onething/api). Tokens: JSON {"<token>": {"subject", "role", "department",
    # "applicant_id"}}; development only, `onething up` writes generated ones to the data dir.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_tokens: dict[str, ApiIdentity] = Field(default_factory=dict)

    definitions_dir: Path = Field(
        default_factory=lambda: Path(__file__).parent.parent / "definitions"
    )

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _tokens_stay_out_of_errors(cls, value: Any) -> Any:
        # pydantic would name a bad entry by its key, which here is the token itself; name it by
        # position and subject instead.
        if not isinstance(value, dict):
            return value
        for position, identity in enumerate(value.values(), start=1):
            try:
                ApiIdentity.model_validate(identity)
            except ValidationError as exc:
                subject = identity.get("subject") if isinstance(identity, dict) else None
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'identity'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ValueError(f"token #{position} (subject {subject!r}): {problems}") from None
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'onething.db').as_posix()}"
        return self

    @property
    def bundles_dir(self) -> Path:
        return self.definitions_dir / "bundles"

    @property
    def departments_file(self) -> Path:
        return self.definitions_dir / "departments.yaml"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
