"""Process settings, read once from ``ONETHING_*`` environment variables (and ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONETHING_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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

    definitions_dir: Path = Field(
        default_factory=lambda: Path(__file__).parent.parent / "definitions"
    )

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
