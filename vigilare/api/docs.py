"""``/docs``: the interactive API reference (Swagger UI), served by the service itself.

The Swagger UI's scripts and stylesheet come from the ``swagger-ui-py`` distribution (a pinned
dependency), served under ``/docs/assets/``; nothing is loaded from a CDN, so the page works offline,
and its Content-Security-Policy lets the browser run only scripts this service serves.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar import MediaType, Response, Router, get
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/docs/assets"
# Swagger UI styles its widgets inline; scripts come only from here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigilare API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<noscript>The interactive reference needs JavaScript; the schema is at
<a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""


def swagger_ui_assets() -> Path:
    """The directory of Swagger UI's built files inside the installed ``swagger-ui-py``."""
    return Path(str(files("swagger_ui") / "static"))


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}


@get("/docs", include_in_schema=False, opt={"public": True}, media_type=MediaType.HTML)
async def docs() -> Response[str]:
    return Response(_PAGE, media_type=MediaType.HTML, headers=_headers())


@get("/docs/init.js", include_in_schema=False, opt={"public": True}, media_type="text/javascript")
async def docs_init() -> Response[str]:
    return Response(_INIT, media_type="text/javascript", headers=_headers())


def docs_router() -> Router:
    assets = create_static_files_router(
        path=ASSETS_PATH,
        directories=[swagger_ui_assets()],
        include_in_schema=False,
        opt={"public": True},
        name="docs-assets",
    )
    return Router(path="/", route_handlers=[docs, docs_init, assets])
