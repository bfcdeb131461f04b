"""The debtor portal as web pages (/p/{tenant}, /portal): server-rendered Jinja templates,
static CSS and JS (no framework, no build step), forms that work without JavaScript.

app.py wires it with `web_route_handlers()`, `template_config()` and `csrf_config(...)`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from services.gateway.entrypoints.web.formatting import FILTERS

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Paths the CSRF check leaves alone: the JSON API (bearer tokens, no cookies), signed document
# links, health and the API docs. Everything else that is not GET (the portal's forms) must
# carry the token of its form.
CSRF_EXEMPT = ("^/api/", "^/d/", "^/health", "^/ready", "^/schema")
CSRF_COOKIE = "portal_csrf"


def static_version() -> str:
    """Changes when a static file changes: appended to their URLs so caches renew them."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


STATIC_VERSION = static_version()


def _register(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(FILTERS)
    engine.engine.globals["static_version"] = STATIC_VERSION


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    # JinjaTemplateEngine turns autoescape on for the directory's templates.
    return TemplateConfig(
        directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=_register
    )


def csrf_config(signing_key: str) -> CSRFConfig:
    secret = hashlib.sha256(f"portal-csrf|{signing_key}".encode()).hexdigest()
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        cookie_httponly=True,
        cookie_samesite="lax",
        exclude=list(CSRF_EXEMPT),
    )


def web_route_handlers() -> list[Any]:
    from services.gateway.entrypoints.web.pages import PortalChooser, PortalPages

    return [
        PortalPages,
        PortalChooser,
        create_static_files_router(
            path="/static",
            directories=[STATIC_DIR],
            name="static",
            include_in_schema=False,
            cache_control=CacheControlHeader(max_age=86400, public=True),
        ),
    ]
