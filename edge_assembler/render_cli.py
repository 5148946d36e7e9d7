"""``edge-assembler render``: a dry run of the manifest pipeline for one origin manifest URL
(README "Dry run and debug endpoint").

An edge runs in this process on a loopback port, in front of the URL's origin, with the
bundle offered once (in a temporary state directory) and the debug endpoint on under a
random token; the answer of ``{admin_prefix}/debug/render`` is printed: the personalised
manifest on stdout, with ``--explain`` the decision trace and the diff on stderr.
Exit codes: 0 ok, 1 refused bundle or origin error, 2 usage or I/O error.
"""

import argparse
import asyncio
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import msgspec

from edge_assembler.bundles.manager import BundleManager, Result
from edge_assembler.config import Bundles, ConfigError, Debug, Session, load_config
from edge_assembler.core.bundle import BundleError, parse_trust
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or unreadable input: exit 2."""


class Failed(Exception):
    """A refused bundle or an origin error: exit 1."""


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = commands.add_parser("render", help="dry run: one manifest as a viewer would get it")
    p.add_argument("--bundle", required=True, type=Path, metavar="B", help="signed rule bundle")
    p.add_argument("--trust", required=True, type=Path, metavar="T", help="trust file")
    p.add_argument("--url", required=True, metavar="ORIGIN_MANIFEST_URL")
    p.add_argument(
        "--query", action="append", default=[], metavar="K=V", help="viewer query (repeatable)"
    )
    p.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="viewer request header, e.g. 'Accept-Language: fr' (repeatable)",
    )
    p.add_argument(
        "--explain", action="store_true", help="the decision trace and the diff on stderr"
    )
    p.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class Job:
    bundle_path: Path
    bundle: bytes
    trust: Path
    origin: str  # scheme://host[:port]
    path: str  # the manifest path with its query
    headers: dict[str, str]


def run(args: argparse.Namespace) -> int:
    try:
        job = _job(args)
        report = asyncio.run(_render(job))
    except UsageError as exc:
        print(f"edge-assembler render: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Failed as exc:
        print(f"edge-assembler render: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.explain:
        print(_explain(report), file=sys.stderr, end="")
    status = report["status"]
    if not 200 <= status < 400:
        print(f"edge-assembler render: the origin answered {status}", file=sys.stderr)
        return EXIT_FAILED
    print(report["edited"], end="")
    return EXIT_OK


def _job(args: argparse.Namespace) -> Job:
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url: expected an http(s) URL with a host, got {args.url!r}")
    extra = []
    for item in args.query:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--query: expected K=V, got {item!r}")
        extra.append((key, value))
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    headers = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise UsageError(f"--header: expected 'Name: value', got {item!r}")
        headers[name] = value.strip()
    try:
        bundle = args.bundle.read_bytes()
        trust = args.trust.read_bytes()
    except OSError as exc:
        raise UsageError(f"{exc.filename}: cannot read: {exc.strerror}") from None
    try:
        parse_trust(trust)
    except BundleError as err:
        raise UsageError(f"{args.trust}: {err}") from None
    return Job(
        bundle_path=args.bundle,
        bundle=bundle,
        trust=args.trust,
        origin=f"{parts.scheme}://{parts.netloc}",
        path=(parts.path or "/") + (f"?{query}" if query else ""),
        headers=headers,
    )


async def _render(job: Job) -> dict[str, Any]:
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="edge-render-") as state_dir:
        try:
            base = load_config(None, origin=job.origin, listen=["127.0.0.1:0"])
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        config = msgspec.structs.replace(
            base,
            log=msgspec.structs.replace(base.log, access_log=False),
            bundles=Bundles(trust=str(job.trust), state_dir=state_dir),
            session=Session(keys={"render": secrets.token_urlsafe(32)}, active_key="render"),
            debug=Debug(token=token),
        )
        manager = BundleManager(config.bundles)
        runner = await start(create_app(config, bundles=manager), config)
        try:
            outcome = await manager.offer(job.bundle, str(job.bundle_path))
            if outcome.result is Result.REJECTED:
                error = manager.last_error
                message = error.message if error is not None else ""
                raise Failed(f"refused: {outcome.code}: {message}")
            endpoint = f"{urls(runner)[0]}{config.admin_prefix}/debug/render"
            headers = {**job.headers, "Authorization": f"Bearer {token}"}
            async with (
                aiohttp.ClientSession() as http,
                http.get(endpoint, params={"path": job.path}, headers=headers) as response,
            ):
                body = await response.read()
            if response.status != 200:
                text = body.decode("utf-8", "replace").strip()
                raise Failed(f"{job.origin}{job.path}: {text}")
            report: dict[str, Any] = msgspec.json.decode(body)
            return report
        finally:
            await runner.cleanup()


def _explain(report: dict[str, Any]) -> str:
    """The decision, one line per rule (fired or skipped, and why), then the diff."""
    lines = [f"origin: {report['url']} ({report['status']})"]
    if report["decision"] is None:
        lines.append("decision: none (no rules applied)")
    else:
        lines.append(f"decision: {report['decision']}")
    plan = report["trace"]
    if plan is not None:
        lines.append(f"fired: {', '.join(plan['fired']) or '(none)'}")
        for entry in plan["trace"]:
            reason = f": {entry['reason']}" if entry.get("reason") else ""
            lines.append(f"  {entry['outcome']:<7} {entry['rule']}{reason}")
            lines += [f"          note: {note}" for note in entry.get("notes", ())]
    lines.append(report["diff"] or "(no changes)\n")
    return "\n".join(lines)
