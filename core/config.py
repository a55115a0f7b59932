"""Settings from `USAGE_*` environment variables (or a `.env` file), with defaults for all."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - the value production refuses


class InsecureConfiguration(RuntimeError):
    """The configuration is unsafe for production; the message says how to fix it."""


class Settings(BaseSettings):
    """Typed `USAGE_*` configuration; `instance_path` anchors the local defaults."""

    model_config = SettingsConfigDict(
        env_prefix="USAGE_", env_file=".env", extra="ignore", validate_default=True
    )

    secret_key: str = DEFAULT_SECRET_KEY
    # Comma-separated keys for the stored isnotai keys; the first encrypts, any decrypts.
    # Empty: derived from the secret key. Losing every listed key loses the stored keys.
    encryption_keys: str = ""
    database_url: str = ""  # empty: SQLite file in instance/ (demo mode: its own file)
    cache_url: str = ""  # empty: SQLite file in instance/; or redis://host:port/db
    demo: Literal["auto", "on", "off"] = "auto"
    env: Literal["development", "production"] = "development"
    # Retired (each tenant has its own signing key); read only so that a start that still
    # sets it is told so (blueprints.embed).
    embed_secret: str = ""
    embed_max_ttl: int = Field(3600, gt=0)  # longest accepted token lifetime, seconds
    public_url: str = "http://127.0.0.1:5000"  # how users reach the app (embed URLs)
    log_format: Literal["text", "json"] = "text"
    # /metrics is served to these addresses, or to callers presenting this bearer token.
    metrics_allow: str = "127.0.0.1,::1"
    metrics_token: str = ""
    https: bool = False  # served over HTTPS: redirect http and send HSTS
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    proxy_hops: int = Field(0, ge=0, le=5)

    isnotai_us_url: str = "https://api.isnotai.com"
    isnotai_eu_url: str = "https://api-eu.isnotai.com"
    # StorageBytes read as bytes stored (a level: the docs' reading) or bytes written (a flow).
    isnotai_storage: Literal["level", "flow"] = "level"
    evovoice_url: str = "https://evovoice.io"
    evovoice_username: str = ""
    evovoice_password: str = ""
    evovoice_auth: Literal["credentials", "basic"] = "credentials"
    # How EvoVoice reads endDate (FACTS.md leaves it open): `auto` detects it once a day.
    evovoice_end_date: Literal["auto", "inclusive", "exclusive"] = "auto"
    # The verb /ai/usage is read with: `auto` sends GET and turns to POST on a 404/405.
    evovoice_method: Literal["auto", "get", "post"] = "auto"

    # Upstream HTTP limits, seconds.
    connect_timeout: float = Field(3.05, gt=0)
    read_timeout: float = Field(10.0, gt=0)
    upstream_deadline: float = Field(20.0, gt=0)
    # Longest a page waits for its reads; past it the page shows saved data (or says the
    # numbers are on their way) while the reads finish in the background and fill the cache.
    page_deadline: float = Field(8.0, gt=0)
    retry_after_max: float = Field(5.0, ge=0)  # longer Retry-After: report instead of waiting
    evovoice_concurrency: int = Field(8, ge=1, le=64)
    max_response_bytes: int = Field(64 * 1024 * 1024, ge=1024)  # larger upstream answers refused
    # Upstream calls one user (or one widget tenant) may cause per minute; 0: no limit.
    upstream_budget: int = Field(300, ge=0)

    # Cache freshness, seconds.
    cache_ttl_past: int = Field(6 * 3600, ge=0)
    cache_ttl_today: int = Field(60, ge=0)
    cache_stale_max: int = Field(24 * 3600, ge=0)

    # Alerts and reports. The job queue: empty, a SQLite file in instance/; or redis://….
    queue_url: str = ""
    # smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…; empty: the demo's own
    # SMTP sink in demo mode, and no mail otherwise (deliveries fail and say so).
    smtp_url: str = ""
    mail_from: str = "Usage dashboard <usage@localhost>"
    demo_smtp_port: int = Field(8025, ge=0, le=65535)  # the demo's sink; 0: any free port
    # Seconds between a failed delivery's tries, the last repeated; given up after 24 h.
    delivery_backoff: str = "30,120,600,1800,3600"
    delivery_give_up_hours: float = Field(24.0, gt=0)
    webhook_timeout: float = Field(10.0, gt=0)

    @field_validator("secret_key", "evovoice_username", "evovoice_password", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @property
    def encryption_key_list(self) -> list[str]:
        """Return the data-encryption keys, newest first."""
        keys = [k.strip() for k in self.encryption_keys.split(",") if k.strip()]
        return keys or [self.secret_key]

    @property
    def has_upstream_credentials(self) -> bool:
        """Tell whether a real EvoVoice credential is configured."""
        return bool(self.evovoice_username and self.evovoice_password)

    @property
    def demo_enabled(self) -> bool:
        """Tell whether demo mode (embedded simulators, demo logins) is on."""
        if self.demo == "auto":
            return not self.has_upstream_credentials
        return self.demo == "on"

    @property
    def demo_seeds_database(self) -> bool:
        """Tell whether demo tenants and logins may be written to the database.

        Only into the demo's own database file, or into a configured database when demo mode
        is asked for explicitly: one start without the EvoVoice credential must not put the
        published demo logins into a real database.
        """
        return self.demo_enabled and (not self.database_url or self.demo == "on")

    def resolved_database_url(self, instance_path: str | Path) -> str:
        """Return the database URL; by default a SQLite file in the instance folder.

        Demo mode has a file of its own, so it never opens the database of real starts.
        """
        if self.database_url:
            return self.database_url
        name = "demo.sqlite" if self.demo_enabled else "dashboard.sqlite"
        return f"sqlite:///{Path(instance_path) / name}"

    def resolved_cache_url(self, instance_path: str | Path) -> str:
        """Return the cache URL, defaulting to a SQLite file in the instance folder."""
        return self.cache_url or f"sqlite:///{Path(instance_path) / 'http_cache.sqlite'}"

    @property
    def is_production(self) -> bool:
        """Tell whether this start serves real upstream data (demo off, or declared production)."""
        return self.env == "production" or not self.demo_enabled

    def check_production_safety(self) -> None:
        """Refuse a production start with a missing, default or short secret."""
        if not self.is_production:
            return
        if (
            not self.secret_key
            or self.secret_key == DEFAULT_SECRET_KEY
            or len(self.secret_key) < 32
        ):
            raise InsecureConfiguration(
                "USAGE_SECRET_KEY is missing, the default, or shorter than 32 characters; "
                "set it to a long random value, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
