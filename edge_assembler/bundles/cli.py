"""``edge-assembler bundle …``: keys, deterministic builds, signing, verification, inspection,
diff and trust files (BUNDLES §5). Exit codes: 0 ok, 1 refused (the reason code is printed),
2 usage or I/O error."""

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_assembler.bundles.manager import peek_manifest
from edge_assembler.bundles.store import atomic_write
from edge_assembler.core.bundle import (
    BundleError,
    Limits,
    NameState,
    NodePolicy,
    TrustStore,
    build_archive,
    make_manifest,
    parse_manifest,
    parse_state,
    parse_trust,
    read_archive,
    sign_bundle,
    verify,
)
from edge_assembler.core.bundle.diff import diff
from edge_assembler.core.bundle.envelope import parse_envelope
from edge_assembler.core.bundle.rules import rules_compiler
from edge_assembler.core.bundle.signing import generate_key, load_private_key
from edge_assembler.core.rules import SUPPORTED_SCHEMA_VERSIONS

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
_DURATION = re.compile(r"^(?P<n>\d+)(?P<unit>[smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_RULE_SUFFIXES = (".toml", ".json")


class UsageError(Exception):
    """Bad arguments or unreadable input: exit 2."""


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    bundle = commands.add_parser("bundle", help="signed rule bundles: keygen, build, sign, …")
    sub = bundle.add_subparsers(required=True, metavar="ACTION")

    p = sub.add_parser("keygen", help="new Ed25519 signing key: PREFIX.key and PREFIX.pub.json")
    p.add_argument("--out", required=True, type=Path, metavar="PREFIX")
    p.add_argument("--comment", default="")
    p.add_argument("--names", nargs="+", default=["*"], help="bundle names the key may sign")
    p.set_defaults(func=partial(run, keygen))

    p = sub.add_parser("build", help="validate, compile and self-test rules, write a bundle")
    p.add_argument("src", type=Path, metavar="SRC_DIR")
    p.add_argument("--name", required=True)
    p.add_argument("--revision", required=True, help="integer, or 'auto'")
    p.add_argument("--expires", required=True, help="duration (14d, 12h) or RFC 3339 UTC time")
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--created", help="RFC 3339 UTC (default: $SOURCE_DATE_EPOCH, else now)")
    p.add_argument("--scope", action="append", default=[], metavar="KEY=V1,V2")
    p.add_argument("--source", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--schema-version", type=int, default=SUPPORTED_SCHEMA_VERSIONS[1])
    p.add_argument("--state", type=Path, help="state.json: 'auto' revisions go above its floor")
    p.add_argument("--key", action="append", default=[], type=Path, help="also sign with it")
    p.set_defaults(func=partial(run, build))

    p = sub.add_parser("sign", help="add (or replace) a signature, keeping the others")
    p.add_argument("bundle", type=Path, metavar="OUT.tar.gz")
    p.add_argument("--key", action="append", required=True, type=Path)
    p.add_argument("-o", "--out", type=Path, help="default: rewrite the bundle in place")
    p.set_defaults(func=partial(run, sign))

    p = sub.add_parser("verify", help="the node's full verification pipeline")
    p.add_argument("bundle", type=Path, metavar="OUT.tar.gz")
    p.add_argument("--trust", required=True, type=Path)
    p.add_argument("--state", type=Path, help="state.json (revision floors)")
    p.add_argument("--now", help="RFC 3339 UTC instant to verify at (default: now)")
    p.add_argument("--name", action="append", default=[], help="accepted name glob")
    p.add_argument("--scope", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--min-revision", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=partial(run, verify_cmd))

    p = sub.add_parser("inspect", help="manifest, files and signers (UNVERIFIED without --trust)")
    p.add_argument("bundle", type=Path, metavar="OUT.tar.gz")
    p.add_argument("--trust", type=Path)
    p.add_argument("--now", help="RFC 3339 UTC instant (default: now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=partial(run, inspect))

    p = sub.add_parser("diff", help="files and rule ids that differ (exit 1 when any)")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=partial(run, diff_cmd))

    p = sub.add_parser("trust", help="write a trust file from public keys")
    p.add_argument("pubs", nargs="*", type=Path, metavar="PUB.json")
    p.add_argument("-o", "--out", required=True, type=Path)
    p.add_argument("--from", dest="base", type=Path, help="start from this trust file")
    p.add_argument("--threshold", type=int, help="signatures needed per name (default 1)")
    p.add_argument("--version", type=int, help="trust version (default: previous + 1)")
    p.add_argument("--retire", action="append", default=[], metavar="KEYID")
    p.add_argument("--revoke", action="append", default=[], metavar="KEYID")
    p.set_defaults(func=partial(run, trust))


def run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Map errors to exit codes: BundleError → 1 (code printed), UsageError/OSError → 2."""
    try:
        return func(args)
    except BundleError as err:
        if getattr(args, "json", False):
            _print_json({"ok": False, "code": err.code, "message": err.message})
        else:
            print(f"refused: {err}")
        return EXIT_REFUSED
    except (UsageError, OSError) as exc:
        print(f"edge-assembler bundle: {exc}", file=sys.stderr)
        return EXIT_USAGE


# -- keygen ------------------------------------------------------------------------------


def keygen(args: argparse.Namespace) -> int:
    """PREFIX.key (PKCS8 PEM, mode 0600) and PREFIX.pub.json (a trust entry); prints the keyid."""
    prefix: Path = args.out
    key_path = prefix.with_name(prefix.name + ".key")
    pub_path = prefix.with_name(prefix.name + ".pub.json")
    for path in (key_path, pub_path):
        if path.exists():
            raise UsageError(f"{path} exists; not overwriting a key")
    generated = generate_key(names=args.names, comment=args.comment)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(generated.private_pem)
    atomic_write(pub_path, json.dumps(generated.trust_entry, indent=2).encode() + b"\n")
    print(generated.keyid)
    return EXIT_OK


# -- build / sign ------------------------------------------------------------------------


def build(args: argparse.Namespace) -> int:
    files = source_files(args.src)
    created = _created(args.created)
    expires = _expires(args.expires, created)
    revision = _revision(args.revision, created, args.state, args.name)
    manifest_bytes = make_manifest(
        files,
        name=args.name,
        revision=revision,
        created=created,
        expires=expires,
        rules_schema_version=args.schema_version,
        scope={k: v.split(",") for k, v in _pairs(args.scope, "--scope").items()} or None,
        source=_pairs(args.source, "--source") or None,
    )
    # The node's own compiler, self-tests included (BUNDLES §4.5 step 8).
    rules_compiler(parse_manifest(manifest_bytes), files)
    blob = build_archive({**files, "manifest.json": manifest_bytes})
    for key_path in args.key:
        blob = sign_bundle(blob, _load_key(key_path))
    atomic_write(args.out, blob)
    print(f"built {args.name} revision {revision}: {len(files)} files, {args.out}")
    return EXIT_OK


def source_files(src: Path) -> dict[str, bytes]:
    """SRC_DIR/*.toml|*.json (or SRC_DIR/rules/*.toml|*.json) → ``rules/<file>``;
    SRC_DIR/tests/*.json → ``tests/<file>``."""
    if not src.is_dir():
        raise UsageError(f"{src}: not a directory")
    documents = src / "rules" if (src / "rules").is_dir() else src
    files = {
        f"rules/{p.name}": p.read_bytes()
        for p in sorted(documents.iterdir())
        if p.is_file() and p.suffix in _RULE_SUFFIXES
    }
    tests = src / "tests"
    if tests.is_dir():
        files |= {f"tests/{p.name}": p.read_bytes() for p in sorted(tests.glob("*.json"))}
    if not any(name.startswith("rules/") for name in files):
        raise UsageError(f"{src}: no *.toml or *.json rule documents")
    return files


def sign(args: argparse.Namespace) -> int:
    blob = args.bundle.read_bytes()
    for key_path in args.key:
        blob = sign_bundle(blob, _load_key(key_path))
    out = args.out or args.bundle
    atomic_write(out, blob)
    print(f"signed {out}")
    return EXIT_OK


def _load_key(path: Path) -> Ed25519PrivateKey:
    passphrase = os.environ.get("EDGE_ASSEMBLER_KEY_PASSPHRASE")
    try:
        return load_private_key(path.read_bytes(), passphrase.encode() if passphrase else None)
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}") from None


# -- verify / inspect --------------------------------------------------------------------


def verify_cmd(args: argparse.Namespace) -> int:
    blob = args.bundle.read_bytes()
    trust_store = _read_trust(args.trust)
    limits = Limits()
    manifest = peek_manifest(blob, limits)
    ns = _name_state(args.state, manifest.name if manifest else None)
    policy = NodePolicy(
        names=tuple(args.name) or ("*",),
        scope=_pairs(args.scope, "--scope"),
        min_revision=args.min_revision,
    )
    v = verify(
        blob,
        trust=trust_store,
        state=ns,
        policy=policy,
        now=_instant(args.now),
        compile=rules_compiler,
        limits=limits,
    )
    report = {
        "ok": True,
        "name": v.name,
        "revision": v.revision,
        "sha256": v.sha256,
        "expires": v.manifest.expires,
        "signer_keyids": v.signer_keyids,
        "not_modified": v.not_modified,
    }
    if args.json:
        _print_json(report)
    else:
        same = " (same as the floor: not_modified)" if v.not_modified else ""
        print(f"valid: {v.name} revision {v.revision}{same}")
        print(f"  sha256   {v.sha256}")
        print(f"  expires  {_utc(v.manifest.expires)}")
        print(f"  signers  {', '.join(v.signer_keyids)}")
    return EXIT_OK


def inspect(args: argparse.Namespace) -> int:
    blob = args.bundle.read_bytes()
    limits = Limits()
    members = read_archive(blob, limits)
    if "manifest.json" not in members:
        raise BundleError("bad_manifest", "the archive has no manifest.json")
    manifest = parse_manifest(members["manifest.json"])
    keyids: list[str] = []
    if "manifest.sig" in members:
        envelope = parse_envelope(members["manifest.sig"], limits.max_signatures)
        keyids = [s.keyid for s in envelope.signatures]
    now = _instant(args.now)
    verdict = "UNVERIFIED"
    if args.trust is not None:
        try:
            verify(
                blob,
                trust=_read_trust(args.trust),
                state=None,
                policy=NodePolicy(),
                now=now,
                compile=rules_compiler,
                limits=limits,
            )
            verdict = "VERIFIED"
        except BundleError as err:
            verdict = f"REFUSED {err.code}: {err.message}"
    doc: dict[str, Any] = {
        "verification": verdict,
        "name": manifest.name,
        "revision": manifest.revision,
        "created": manifest.created,
        "expires": manifest.expires,
        "expires_in_seconds": (manifest.expires - now).total_seconds(),
        "rules_schema_version": manifest.rules_schema_version,
        "scope": manifest.scope,
        "source": manifest.source,
        "load_order": manifest.load_order,
        "files": {n: {"size": e.size, "sha256": e.sha256} for n, e in manifest.files.items()},
        "signature_keyids": keyids,
    }
    if args.json:
        _print_json(doc)
        return EXIT_OK
    left = manifest.expires - now
    countdown = f"in {_span(left)}" if left > timedelta(0) else f"EXPIRED {_span(-left)} ago"
    print(f"{verdict}")
    print(f"name       {manifest.name}")
    print(f"revision   {manifest.revision}")
    print(f"created    {_utc(manifest.created)}")
    print(f"expires    {_utc(manifest.expires)} ({countdown})")
    print(f"schema     {manifest.rules_schema_version}")
    if manifest.scope:
        print(f"scope      {json.dumps(manifest.scope)}")
    print(f"signatures {', '.join(keyids) or '(none)'}")
    print("files")
    for name, entry in sorted(manifest.files.items()):
        print(f"  {entry.size:>9}  {entry.sha256[:12]}  {name}")
    return EXIT_OK


# -- diff / trust ------------------------------------------------------------------------


def diff_cmd(args: argparse.Namespace) -> int:
    old, new = (read_archive(p.read_bytes(), Limits()) for p in (args.old, args.new))
    result = diff(old, new)
    manifests: dict[str, dict[str, object]] = {}
    for side, members in (("old", old), ("new", new)):
        if "manifest.json" in members:
            parsed = parse_manifest(members["manifest.json"])
            manifests[side] = {
                "name": parsed.name,
                "revision": parsed.revision,
                "expires": _utc(parsed.expires),
            }
    differs = bool(result.added or result.removed or result.changed)
    if args.json:
        _print_json({"differs": differs, "manifests": manifests, **msgspec.to_builtins(result)})
    else:
        for side, m in manifests.items():
            print(f"{side}: {m['name']} revision {m['revision']} expires {m['expires']}")
        for label, names in (("+", result.added), ("-", result.removed), ("~", result.changed)):
            for name in names:
                print(f"{label} {name}")
        for doc in result.documents:
            for label, ids in (("+", doc.added), ("-", doc.removed), ("~", doc.changed)):
                for item in ids:
                    print(f"  {label} {doc.file}: {item}")
    return EXIT_REFUSED if differs else EXIT_OK


def trust(args: argparse.Namespace) -> int:
    """Keys from PUB.json files (and ``--from``), statuses, one threshold for every name."""
    doc: dict[str, Any] = {"version": 0, "policies": [], "keys": []}
    if args.base is not None:
        doc = msgspec.json.decode(_read_trust_bytes(args.base))
        doc["version"] = int(doc.get("version", 0)) + 1
    keys: dict[str, dict[str, Any]] = {k["keyid"]: k for k in doc.get("keys", [])}
    for pub in args.pubs:
        try:
            entry = json.loads(pub.read_bytes())
        except ValueError as exc:
            raise UsageError(f"{pub}: not JSON: {exc}") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("keyid"), str):
            raise UsageError(f"{pub}: not a key entry (from `bundle keygen`)")
        keys[entry["keyid"]] = entry
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    for keyid, status in [(k, "retired") for k in args.retire] + [
        (k, "revoked") for k in args.revoke
    ]:
        if keyid not in keys:
            raise UsageError(f"{keyid}: no such key")
        keys[keyid]["status"] = status
        if status == "revoked":
            keys[keyid]["revoked_at"] = now
    if not keys:
        raise UsageError("no keys: give PUB.json files or --from")
    doc["keys"] = list(keys.values())
    if args.threshold is not None:
        doc["policies"] = [{"names": ["*"], "threshold": args.threshold}]
    if args.version is not None:
        doc["version"] = args.version
    data = json.dumps(doc, indent=2).encode() + b"\n"
    parsed = parse_trust(data)
    atomic_write(args.out, data)
    states = ", ".join(f"{k.keyid} {k.status}" for k in parsed.keys)
    print(f"wrote {args.out}: version {parsed.version}; {states}")
    return EXIT_OK


# -- helpers -----------------------------------------------------------------------------


def _read_trust_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None


def _read_trust(path: Path) -> TrustStore:
    try:
        return parse_trust(_read_trust_bytes(path))
    except BundleError as err:
        raise UsageError(f"{path}: {err}") from None


def _name_state(path: Path | None, name: str | None) -> NameState | None:
    if path is None or name is None:
        return None
    try:
        state = parse_state(path.read_bytes())
    except BundleError as err:
        raise UsageError(f"{path}: {err}") from None
    return state.names.get(name)


def _revision(text: str, created: datetime, state: Path | None, name: str) -> int:
    """``auto`` = max(floor + 1, unix time of ``created``) (BUNDLES §5)."""
    if text != "auto":
        if not text.isdigit():
            _usage(f"--revision: expected an integer or 'auto', got {text!r}")
        return int(text)
    ns = _name_state(state, name)
    return max((ns.floor_revision + 1) if ns else 0, int(created.timestamp()))


def _created(text: str | None) -> datetime:
    if text:
        return _parse_utc(text, "--created")
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        if not epoch.isdigit():
            _usage(f"SOURCE_DATE_EPOCH: not an integer: {epoch!r}")
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def _expires(text: str, created: datetime) -> datetime:
    match = _DURATION.fullmatch(text)
    if match:
        return created + timedelta(seconds=int(match["n"]) * _UNITS[match["unit"]])
    return _parse_utc(text, "--expires")


def _instant(text: str | None) -> datetime:
    return datetime.now(UTC) if text is None else _parse_utc(text, "--now")


def _parse_utc(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _usage(f"{what}: not an RFC 3339 time: {text!r}")
    if moment.tzinfo is None:
        _usage(f"{what}: needs a time zone (e.g. 2026-10-04T12:00:00Z): {text!r}")
    return moment.astimezone(UTC)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _usage(f"{what}: expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _usage(message: str) -> NoReturn:
    raise UsageError(message)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86_400)
    return f"{days}d {rest // 3600}h {rest % 3600 // 60}m"


def _print_json(doc: Mapping[str, Any]) -> None:
    print(msgspec.json.format(msgspec.json.encode(doc)).decode())
