"""The ``edge-assembler`` command: ``serve``, ``demo``, ``config``, ``bundle`` and ``render``."""

import argparse
import os
import sys
from pathlib import Path

from edge_assembler import __version__, render_cli
from edge_assembler.bundles import cli as bundle_cli
from edge_assembler.config import ConfigError, NodeConfig, dump_config, load_config

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"edge-assembler: bad configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-assembler", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the edge in front of an origin")
    _config_flags(serve)
    serve.set_defaults(func=_serve)

    show = commands.add_parser("config", help="validate and print the effective configuration")
    _config_flags(show)
    show.add_argument(
        "--show-secrets",
        action="store_true",
        help="print the secrets (session keys, debug token, Redis password) as they are",
    )
    show.set_defaults(func=_show_config)

    demo = commands.add_parser("demo", help="demo origin with generated media, edge in front")
    demo.add_argument("--listen", default="127.0.0.1:8080", help="edge address (HOST:PORT)")
    demo.add_argument(
        "--origin-listen", default="127.0.0.1:0", help="demo origin address (HOST:PORT)"
    )
    demo.add_argument(
        "--media-cache",
        type=Path,
        default=Path(os.environ.get("EDGE_ASSEMBLER_MEDIA_CACHE", ".cache/demo-media")),
        help="where generated media is kept between runs",
    )
    demo.add_argument("--no-live", action="store_true", help="skip the live encoder")
    demo.add_argument(
        "--origin-only",
        action="store_true",
        help="serve only the demo origin, on --origin-listen (edges run elsewhere)",
    )
    demo.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one edge setting, e.g. --set personalise.deadline=0.2 (repeatable)",
    )
    demo.set_defaults(func=_demo)

    bundle_cli.add_parser(commands)
    render_cli.add_parser(commands)
    return parser


def _config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=_env_path("EDGE_ASSEMBLER_CONFIG"), help="TOML file"
    )
    parser.add_argument("--origin", help="origin base URL serving every path")
    parser.add_argument(
        "--listen", action="append", default=[], help="HOST:PORT to listen on (repeatable)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set timeouts.connect=0.5 (repeatable)",
    )
    parser.add_argument(
        "--bundle",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="rule bundle source: a file or directory to watch, or a URL to poll (repeatable)",
    )
    parser.add_argument("--trust", metavar="TRUST.json", help="trust file for rule bundles")
    parser.add_argument("--state-dir", metavar="DIR", help="bundle store and state directory")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="serving processes sharing the listen ports (0: one per CPU; 1: no supervisor)",
    )


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _load(args: argparse.Namespace) -> NodeConfig:
    text, source = None, "flags"
    if args.config is not None:
        try:
            text, source = args.config.read_text(encoding="utf-8"), str(args.config)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{args.config}: cannot read: {exc}") from None
    return load_config(
        text,
        source=source,
        env=os.environ,
        sets=args.sets,
        origin=args.origin,
        listen=args.listen,
        bundle=args.bundle,
        trust=args.trust,
        state_dir=args.state_dir,
        workers=args.workers,
    )


def _serve(args: argparse.Namespace) -> int:
    import uvloop

    from edge_assembler.server import logs, runner, workers

    config = _load(args)
    access_log_class = logs.configure(config.log)
    if config.worker_count() > 1:
        return workers.run(config)
    uvloop.run(runner.serve(config, access_log_class))
    return 0


def _show_config(args: argparse.Namespace) -> int:
    print(dump_config(_load(args), secrets=args.show_secrets))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from edge_assembler.demo.run import run_demo, run_origin

    if args.origin_only:
        return run_origin(
            listen=args.origin_listen, media_cache=args.media_cache, live=not args.no_live
        )
    return run_demo(
        listen=args.listen,
        origin_listen=args.origin_listen,
        media_cache=args.media_cache,
        live=not args.no_live,
        sets=args.sets,
    )
