"""The demo page, served by ``edge-assembler demo`` under the admin prefix (never by
``serve``): plain HTML and JS that play a stream through the edge with hls.js or dash.js
and show the origin's and the edge's manifest side by side.

The players come from the project's ``node_modules`` (``npm ci``; ``make run`` runs it);
without them the page says how to install them instead of failing.
"""

import html
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Final

from aiohttp import web

from edge_assembler.server.state import ROUTE

HERE: Final = Path(__file__).resolve().parent
PROJECT_ROOT: Final = HERE.parents[2]
# Served file name -> (npm package, path under node_modules).
LIBS: Final = {
    "hls.min.js": ("hls.js", "hls.js/dist/hls.min.js"),
    "dash.all.min.js": ("dashjs", "dashjs/dist/modern/umd/dash.all.min.js"),
}
ASSETS: Final = {"demo.js": "text/javascript", "demo.css": "text/css"}
INSTALL_HINT: Final = "run `npm ci` in the project directory (`make run` does it), then reload"
_NO_STORE: Final = {"Cache-Control": "no-store"}


def node_modules_dirs() -> tuple[Path, ...]:
    """Where the players are looked for: the current directory, then the source checkout."""
    return tuple(dict.fromkeys([Path.cwd() / "node_modules", PROJECT_ROOT / "node_modules"]))


def add_routes(
    app: web.Application,
    *,
    prefix: str,
    origin: str,
    hls: str,
    dash: str,
    node_modules: Sequence[Path],
    live_hls: str = "",
    live_dash: str = "",
) -> None:
    """``{prefix}/demo`` and its files. ``origin`` is the origin's base URL; ``hls`` and
    ``dash`` are the manifest paths the page plays, ``live_hls`` and ``live_dash`` those
    of its live stream (none: the page offers none)."""
    paths = {"hls": hls, "dash": dash, "live_hls": live_hls, "live_dash": live_dash}
    page = _Page(f"{prefix}/demo", prefix, origin, paths, tuple(node_modules))
    app.router.add_get(page.base, page.index)
    app.router.add_get(f"{page.base}/lib/{{name}}", page.lib)
    app.router.add_get(f"{page.base}/{{name}}", page.asset)


class _Page:
    def __init__(
        self,
        base: str,
        admin: str,
        origin: str,
        paths: dict[str, str],
        node_modules: tuple[Path, ...],
    ) -> None:
        self.base = base
        self.node_modules = node_modules
        self.fields = {"base": base, "admin": admin, "origin": origin.rstrip("/"), **paths}
        self.fields["live_hidden"] = "" if paths["live_hls"] else "hidden"
        self.template = Template((HERE / "index.html").read_text(encoding="utf-8"))

    async def index(self, request: web.Request) -> web.Response:
        request[ROUTE] = "admin"
        missing = [package for name, (package, _) in LIBS.items() if self._find(name) is None]
        notice = ""
        if missing:
            notice = f"{' and '.join(missing)} not installed: {INSTALL_HINT}."
        fields = {key: html.escape(value) for key, value in self.fields.items()}
        body = self.template.substitute(fields, notice=html.escape(notice))
        return web.Response(text=body, content_type="text/html", headers=_NO_STORE)

    async def lib(self, request: web.Request) -> web.StreamResponse:
        request[ROUTE] = "admin"
        name = request.match_info["name"]
        if name not in LIBS:
            raise web.HTTPNotFound()
        path = self._find(name)
        if path is None:
            raise web.HTTPNotFound(text=f"{LIBS[name][0]} is not installed: {INSTALL_HINT}\n")
        headers = {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache"}
        return web.FileResponse(path, headers=headers)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        request[ROUTE] = "admin"
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        headers = {"Content-Type": f"{ASSETS[name]}; charset=utf-8", **_NO_STORE}
        return web.FileResponse(HERE / name, headers=headers)

    def _find(self, name: str) -> Path | None:
        relative = LIBS[name][1]
        return next((d / relative for d in self.node_modules if (d / relative).is_file()), None)
