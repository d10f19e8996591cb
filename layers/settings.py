"""All geocommune settings, in one place.

Each setting is read from an environment variable prefixed ``GEOCOMMUNE_`` and can be
overridden by the matching CLI flag. The README's "Réglages" table documents them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GEOCOMMUNE_{name}", default)


@dataclass(frozen=True)
class Settings:
    # Where the embedded store keeps its GeoPackage files (GEOCOMMUNE_DATA, --data).
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA", "data")))
    # The layer catalogue (GEOCOMMUNE_CATALOGUE, --catalogue).
    catalogue: Path = field(
        default_factory=lambda: Path(_env("CATALOGUE", str(CONFIG_DIR / "catalogue.yaml")))
    )
    # Store URL: empty = embedded GeoPackage in data_dir; postgresql://… = PostGIS (GEOCOMMUNE_STORE, --store).
    store: str = field(default_factory=lambda: _env("STORE", ""))
    # PostGIS connections per process (each server worker has its own pool) (GEOCOMMUNE_PG_POOL).
    pg_pool: int = field(default_factory=lambda: int(_env("PG_POOL", "4")))
    # HTTP server (GEOCOMMUNE_HOST / _PORT / _WORKERS, --host / --port / --workers).
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "5000")))
    workers: int = field(default_factory=lambda: int(_env("WORKERS", "2")))
    # Threads per worker process (GEOCOMMUNE_THREADS): each serves one connection at a time
    # and keeps it open between requests (HTTP keep-alive), while the others wait on I/O.
    threads: int = field(default_factory=lambda: int(_env("THREADS", "4")))
    # One access log line per request on the standard output (GEOCOMMUNE_ACCESS_LOG; 0 = none,
    # when a reverse proxy in front already logs them: about 0.07 ms of CPU per request saved).
    access_log: bool = field(default_factory=lambda: _env("ACCESS_LOG", "1").strip().lower() not in ("0", "false", "no", "non", "off"))
    # Public base URL of the API, when behind a reverse proxy (GEOCOMMUNE_URL).
    url: str = field(default_factory=lambda: _env("URL", ""))
    # Where the demo raw files are generated (GEOCOMMUNE_DEMO_DIR).
    demo_dir: Path = field(default_factory=lambda: Path(_env("DEMO_DIR", "demo-data")))
    # Basemap tiles for the map: osm, ign or none (GEOCOMMUNE_BASEMAP).
    basemap: str = field(default_factory=lambda: _env("BASEMAP", "osm"))
    # How long clients and proxies may reuse an API response without revalidating it, in
    # seconds: ``Cache-Control: public, max-age=…`` (GEOCOMMUNE_CACHE_MAX_AGE; 0 = always revalidate).
    cache_max_age: int = field(default_factory=lambda: int(_env("CACHE_MAX_AGE", "60")))
    # Usage counters (/stats): 0 disables counting (GEOCOMMUNE_USAGE); each worker writes its
    # counts to the store at most every GEOCOMMUNE_USAGE_FLUSH seconds (0 = at each request).
    usage: bool = field(default_factory=lambda: _env("USAGE", "1").strip().lower() not in ("0", "false", "no", "non", "off"))
    usage_flush: float = field(default_factory=lambda: float(_env("USAGE_FLUSH", "5")))

    def with_overrides(self, **overrides: object) -> "Settings":
        """Apply CLI flags; ``None`` means "flag not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in ("data_dir", "catalogue", "demo_dir"):
            if key in given:
                given[key] = Path(given[key])  # type: ignore[arg-type]
        return replace(self, **given)  # type: ignore[arg-type]

    @property
    def public_url(self) -> str:
        return self.url or f"http://{self.host}:{self.port}"


def load_settings(**overrides: object) -> Settings:
    return Settings().with_overrides(**overrides)
