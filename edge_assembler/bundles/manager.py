"""The one place bundles become active (BUNDLES §4.6-4.8).

Every source funnels into :meth:`BundleManager.offer`, serialized by one ``asyncio.Lock``:
verify and compile in a thread, persist the original bytes, then swap one reference to an
immutable :class:`ActiveBundle`. Any failure keeps the last good bundle and is recorded
(status, metrics, log) with its reason code. Requests read :attr:`BundleManager.current`
once and keep that snapshot for their whole life.

The worker processes of one node share one state directory and one writer: the process
holding the store's writer lock runs the sources and persists; the others follow, activating
the bundle ``state.json`` names as active (re-verified in full) and mirroring the writer's
check times and last error for status, so every worker serves the same revision.
"""

import asyncio
import contextlib
import enum
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from edge_assembler.bundles.store import BundleStore
from edge_assembler.config import Bundles
from edge_assembler.core.bundle import (
    BundleError,
    Limits,
    Manifest,
    NodePolicy,
    State,
    TrustStore,
    Verified,
    encode_state,
    parse_manifest,
    parse_state,
    parse_trust,
    read_archive,
    recompute_floor,
    record_activation,
    verify,
)
from edge_assembler.core.bundle.rules import rules_compiler
from edge_assembler.core.rules import CompiledRules
from edge_assembler.metrics import Metrics

log = logging.getLogger("edge_assembler.bundles")

Clock = Callable[[], datetime]
Compiler = Callable[[Manifest, Mapping[str, bytes]], CompiledRules]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Result(enum.Enum):
    ACTIVATED = "activated"
    NOT_MODIFIED = "not_modified"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one offer; ``code`` is the reason code of a rejection."""

    result: Result
    code: str = ""
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class ActiveBundle:
    """Everything a request needs from the active bundle; immutable (BUNDLES §4.8)."""

    name: str
    revision: int
    sha256: str
    expires: datetime
    signer_keyids: tuple[str, ...]
    rules: CompiledRules
    activated_at: datetime


class Serving(enum.Enum):
    """What a manifest request does with the snapshot it read (BUNDLES §4.6 stale policy)."""

    RULES = "rules"
    PASSTHROUGH = "passthrough"
    FAIL = "fail"


class LastError(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    revision: int | None
    origin: str
    at: datetime


class WriterRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the writer publishes for the followers' status (``state/writer.json``)."""

    pid: int
    download: datetime | None = None
    check: datetime | None = None
    last_error: LastError | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Step:
    """What the worker thread made of one offer."""

    verified: Verified[CompiledRules] | None = None
    state: State | None = None  # the new state, when it changed
    activate: bool = False
    error: BundleError | None = None
    revision: int | None = None  # from the unverified manifest, to label an error


@dataclass(slots=True)
class _Times:
    """Wall-clock times for status, plus a monotonic one for "no success for X" alarms."""

    activation: datetime | None = None
    download: datetime | None = None
    check: datetime | None = None
    check_monotonic: float | None = None


class BundleManager:
    def __init__(
        self,
        settings: Bundles,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        compile: Compiler = rules_compiler,
    ) -> None:
        self.settings = settings
        self.store = BundleStore(Path(settings.state_dir))
        self.trust_path = Path(settings.trust)
        self.policy = NodePolicy(
            names=settings.names, scope=dict(settings.scope), min_revision=settings.min_revision
        )
        self.limits = Limits(
            max_compressed=settings.max_compressed,
            max_uncompressed=settings.max_uncompressed,
            max_members=settings.max_members,
            max_file=settings.max_file,
            skew=timedelta(seconds=settings.skew),
            max_future_skew=timedelta(seconds=settings.max_future_skew),
            max_validity=timedelta(seconds=settings.max_validity),
        )
        self._metrics = metrics
        self._clock = clock
        self._monotonic = monotonic
        self._compile = compile
        self._lock = asyncio.Lock()
        self._active: ActiveBundle | None = None
        self._active_blob = b""
        self._trust: TrustStore | None = None
        self._trust_stamp: tuple[int, int, int] | None = None
        self._trust_error: LastError | None = None
        self._state = State()
        self._last_error: LastError | None = None
        self._times = _Times()
        self._writer = True
        self._writer_record: WriterRecord | None = None  # a follower's view of the writer
        self._followed: tuple[object, ...] | None = None
        if metrics is not None:
            metrics.observe(metrics.bundle_expiry_seconds, self._expiry_seconds)
            metrics.observe(metrics.bundle_stale, lambda: float(self._expiry_seconds() < 0))

    # -- reading -------------------------------------------------------------------------

    @property
    def current(self) -> ActiveBundle | None:
        """The active bundle: read it once per request and keep the snapshot."""
        return self._active

    @property
    def has_activated(self) -> bool:
        """A bundle was active at some point since start: the readiness gate (BUNDLES §4.7).
        Losing it later (trust revoked its signer) does not make the node unready."""
        return self._times.activation is not None

    @property
    def is_writer(self) -> bool:
        """This process runs the sources and persists (see the module docstring)."""
        return self._writer

    @property
    def state(self) -> State:
        return self._state

    @property
    def last_error(self) -> LastError | None:
        return self._last_error

    def committed_etag(self) -> str | None:
        """The ETag stored with the active bundle's name (BUNDLES §4.9: survives restarts)."""
        active = self._active
        if active is None:
            return None
        ns = self._state.names.get(active.name)
        return None if ns is None else ns.etag

    def serving(self, snap: ActiveBundle | None) -> Serving:
        """The stale policy applied to a request's snapshot, counted when it is expired."""
        if snap is None:
            return Serving.PASSTHROUGH
        now = self._clock()
        action = self._serving(snap, now)
        if now >= snap.expires and self._metrics is not None:
            self._metrics.bundle_stale_requests.labels(action.value).inc()
        return action

    def _serving(self, snap: ActiveBundle | None, now: datetime) -> Serving:
        """BUNDLES §4.6 "Expiry of the bundle being served": an expired bundle is still
        applied under ``serve`` for ``max_stale`` seconds (0: no limit), then manifests pass
        through unmodified; ``passthrough`` does that at once; ``fail`` answers 503."""
        if snap is None:
            return Serving.PASSTHROUGH
        if now < snap.expires:
            return Serving.RULES
        policy = self.settings.stale_policy
        if policy == "serve":
            limit = self.settings.max_stale
            within = not limit or now < snap.expires + timedelta(seconds=limit)
            return Serving.RULES if within else Serving.PASSTHROUGH
        return Serving.PASSTHROUGH if policy == "passthrough" else Serving.FAIL

    # -- startup -------------------------------------------------------------------------

    async def start(self, *, writer: bool = True) -> None:
        """Load trust and state, then re-verify the persisted bundle through the full
        pipeline (BUNDLES §4.7 "Startup"); a follower (``writer`` False) activates what the
        writer recorded as active instead. Never raises: problems leave the status degraded."""
        self._writer = writer
        if not writer:
            log.info("bundle state %s has a writer: following it", self.settings.state_dir)
            async with self._lock:
                await self._load_trust()
            await self.follow()
            return
        async with self._lock:
            await self._load_trust()
            self._state = await asyncio.to_thread(self._load_state)
            for name in await asyncio.to_thread(self.store.names):
                if await self._restore(name):
                    break
            self._publish_writer()

    async def take_over(self) -> None:
        """Become the writer (the previous one is gone): catch up with what it recorded, then
        persist from here on."""
        await self.follow()
        async with self._lock:
            self._writer = True
            self._state = await asyncio.to_thread(self._load_state)
            if self._writer_record is not None:
                self._times.download = self._writer_record.download
                self._last_error = self._writer_record.last_error
            self._writer_record = None
            self._publish_writer()
        log.info("this process is now the bundle writer of %s", self.settings.state_dir)

    def _load_state(self) -> State:
        try:
            data = self.store.read_state()
            return State() if data is None else parse_state(data)
        except BundleError as err:
            if not self._writer:  # only the writer moves files; it will have done so
                raise
            aside = self.store.quarantine_state()
            self._record(err, "state.json", None)
            log.error("state.json unreadable (%s); moved to %s", err, aside)
        except OSError as exc:
            self._record(BundleError("bad_state", f"cannot read: {exc}"), "state.json", None)
            log.error("state.json unreadable: %s", exc)
        return State()

    async def _restore(self, name: str) -> bool:
        origin = f"store:{name}"
        blob = await asyncio.to_thread(self.store.read_current, name)
        if blob is None:
            return False
        now = self._clock()
        manifest = await asyncio.to_thread(peek_manifest, blob, self.limits)
        revision = None if manifest is None else manifest.revision
        try:
            v = await asyncio.to_thread(self._verify_persisted, blob, now, manifest)
        except BundleError as err:
            self._reject(err, origin, revision)
            return False
        if v.name != name:
            self._reject(BundleError("wrong_name", f"stored under {name!r}"), origin, revision)
            return False
        ns = self._state.names.get(name)
        if not v.not_modified or ns is None or ns.active is None:
            try:
                state = record_activation(self._state, v, now, ns.etag if ns else None)
                await asyncio.to_thread(self.store.write_state, encode_state(state))
                self._state = state
            except OSError as exc:
                log.error("cannot record the restored bundle in state.json: %s", exc)
        self._activate(v, blob, now, origin)
        return True

    def _verify_persisted(
        self, blob: bytes, now: datetime, manifest: Manifest | None
    ) -> Verified[CompiledRules]:
        """The full pipeline for a bundle from the store. An expired one is still checked in
        full, at its own expiry instant, and then served under the stale policy (BUNDLES §4.6)."""
        try:
            return self._verify(blob, now, manifest)
        except BundleError as err:
            if err.code != "expired" or manifest is None:
                raise
        v = self._verify(blob, manifest.expires, manifest)
        log.warning("persisted bundle %s r%d has expired", v.name, v.revision)
        return v

    # -- following the writer ------------------------------------------------------------

    async def follow(self) -> None:
        """A follower's step: when ``state.json``, the writer's record or the trust changed,
        activate the bundle the writer recorded as active last (re-verified in full, never
        persisted, not counted as an offer) and mirror the writer's status."""
        seen = await asyncio.to_thread(
            lambda: (
                _stamp(self.store.state_file),
                _stamp(self.store.writer_file),
                self._trust_stamp,
            )
        )
        if seen == self._followed:
            return
        async with self._lock:
            self._followed = seen if await self._follow() else None  # None: try again

    async def _follow(self) -> bool:
        """False when the store is mid-swap (``current`` already ahead of ``state.json``)."""
        record = await asyncio.to_thread(self._read_writer)
        if record is not None:
            self._writer_record = record
            if record.check is not None and self._metrics is not None:
                self._metrics.bundle_last_success_timestamp.set(record.check.timestamp())
        try:
            self._state = await asyncio.to_thread(self._load_state)
        except BundleError as err:
            log.warning("cannot follow the bundle writer: %s", err)
            return True
        latest = _latest_active(self._state)
        active = self._active
        if latest is None or (active is not None and (active.name, active.sha256) == latest[:2]):
            return True
        name, sha256 = latest
        blob = await asyncio.to_thread(self.store.read_current, name)
        if blob is None:
            return False
        manifest = await asyncio.to_thread(peek_manifest, blob, self.limits)
        revision = None if manifest is None else manifest.revision
        try:
            v = await asyncio.to_thread(self._verify_persisted, blob, self._clock(), manifest)
        except BundleError as err:
            self._record(err, f"store:{name}", revision)
            log.warning("bundle %s from the writer's store refused: %s", name, err)
            return True
        if v.sha256 != sha256:
            return False
        self._activate(v, blob, self._clock(), f"store:{name}")
        return True

    def _read_writer(self) -> WriterRecord | None:
        try:
            return msgspec.json.decode(self.store.writer_file.read_bytes(), type=WriterRecord)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None

    def _publish_writer(self) -> None:
        """The writer's check times and last error, for the followers' status."""
        if not self._writer:
            return
        record = WriterRecord(
            pid=os.getpid(),
            download=self._times.download,
            check=self._times.check,
            last_error=self._last_error,
        )
        try:
            self.store.write_writer(msgspec.json.encode(record))
        except OSError as exc:
            log.warning("cannot publish the writer's status: %s", exc)

    # -- offers --------------------------------------------------------------------------

    async def offer(self, blob: bytes, origin: str, *, etag: str | None = None) -> Outcome:
        """Verify, compile, persist and activate ``blob`` (BUNDLES §4.8). ``etag`` is stored
        with the name on ACTIVATED and NOT_MODIFIED only (BUNDLES §4.9)."""
        async with self._lock:
            now = self._clock()
            step = await asyncio.to_thread(self._process, blob, now, etag)
            if step.state is not None:
                self._state = step.state
            v = step.verified
            if v is None:
                assert step.error is not None
                return self._reject(step.error, origin, step.revision)
            if not step.activate:
                self._confirmed(now)
                self._count(Result.NOT_MODIFIED, "")
                return Outcome(Result.NOT_MODIFIED, revision=v.revision)
            self._activate(v, blob, now, origin)
            return Outcome(Result.ACTIVATED, revision=v.revision)

    def _process(self, blob: bytes, now: datetime, etag: str | None) -> _Step:
        """Everything of one offer that blocks, in one worker-thread hop (the lock is held)."""
        manifest = peek_manifest(blob, self.limits)
        revision = None if manifest is None else manifest.revision
        try:
            v = self._verify(blob, now, manifest)
            active = self._active
            if v.not_modified and active is not None and active.sha256 == v.sha256:
                return _Step(verified=v, state=self._etag_state(v.name, etag), activate=False)
            return _Step(verified=v, state=self._persist(blob, v, now, etag), activate=True)
        except BundleError as err:
            return _Step(error=err, revision=revision)

    def note_download(self) -> None:
        """A source fetched bytes (for status)."""
        self._times.download = self._clock()
        self._publish_writer()

    def note_unchanged(self) -> None:
        """A source confirmed the bundle is unchanged (HTTP 304)."""
        self._confirmed(self._clock())

    def reject(self, err: BundleError, origin: str) -> Outcome:
        """Record a failure a source found before it could offer (e.g. ``too_large``)."""
        return self._reject(err, origin, None)

    def _verify(
        self, blob: bytes, now: datetime, manifest: Manifest | None
    ) -> Verified[CompiledRules]:
        """The full pipeline; ``manifest`` (unverified) only selects the name's state."""
        if self._trust is None:
            raise BundleError("bad_trust", "no trust store loaded")
        ns = None if manifest is None else self._state.names.get(manifest.name)
        return verify(
            blob,
            trust=self._trust,
            state=ns,
            policy=self.policy,
            now=now,
            compile=self._compile,
            limits=self.limits,
        )

    def _persist(
        self, blob: bytes, v: Verified[CompiledRules], now: datetime, etag: str | None
    ) -> State:
        """BUNDLES §4.7 write order: bundle file, ``current`` link, then state.json. A
        failure puts the link back and raises ``persist_failed``; nothing is activated."""
        previous = self.store.current_target(v.name)
        try:
            path = self.store.write_bundle(v.name, v.revision, v.sha256, blob)
            self.store.point_current(v.name, path)
            state = record_activation(self._state, v, now, etag)
            try:
                self.store.write_state(encode_state(state))
            except OSError:
                with contextlib.suppress(OSError):
                    self.store.point_current(v.name, previous)
                raise
        except OSError as exc:
            raise BundleError("persist_failed", f"{exc.strerror or exc}: {exc.filename}") from exc
        try:
            self.store.prune(v.name)
        except OSError as exc:
            log.warning("cannot prune old bundles of %s: %s", v.name, exc)
        return state

    def _etag_state(self, name: str, etag: str | None) -> State | None:
        """The state with a new committed ETag stored, or None when nothing changed."""
        ns = self._state.names.get(name)
        if etag is None or ns is None or ns.etag == etag:
            return None
        state = State(names={**self._state.names, name: msgspec.structs.replace(ns, etag=etag)})
        try:
            self.store.write_state(encode_state(state))
        except OSError as exc:
            log.warning("cannot store the ETag of %s: %s", name, exc)
            return None
        return state

    def _activate(
        self, v: Verified[CompiledRules], blob: bytes, now: datetime, origin: str
    ) -> None:
        self._active = ActiveBundle(
            name=v.name,
            revision=v.revision,
            sha256=v.sha256,
            expires=v.manifest.expires,
            signer_keyids=tuple(v.signer_keyids),
            rules=v.rules,
            activated_at=now,
        )
        self._active_blob = blob
        self._times.activation = now
        if self._writer:
            self._confirmed(now)
            self._count(Result.ACTIVATED, "")
        if self._metrics is not None:
            self._metrics.bundle_active_revision.set(v.revision)
            self._metrics.refresh()  # readiness and expiry, at once
        log.info(
            "activated bundle %s r%d sha256 %s from %s, signed by %s",
            v.name,
            v.revision,
            v.sha256[:12],
            origin,
            ", ".join(v.signer_keyids),
        )

    def _confirmed(self, now: datetime) -> None:
        self._times.check = now
        self._times.check_monotonic = self._monotonic()
        if self._metrics is not None:
            self._metrics.bundle_last_success_timestamp.set(now.timestamp())
        self._publish_writer()

    def _reject(self, err: BundleError, origin: str, revision: int | None) -> Outcome:
        self._record(err, origin, revision)
        self._count(Result.REJECTED, err.code)
        log.warning("bundle from %s refused: %s", origin, err)
        return Outcome(Result.REJECTED, code=err.code, revision=revision)

    def _record(self, err: BundleError, origin: str, revision: int | None) -> None:
        self._last_error = LastError(
            code=err.code, message=err.message, revision=revision, origin=origin, at=self._clock()
        )
        self._publish_writer()

    def _count(self, result: Result, code: str) -> None:
        if self._metrics is not None:
            self._metrics.bundle_activations.labels(result.value, code).inc()

    def _expiry_seconds(self) -> float:
        active = self._active
        return 0.0 if active is None else (active.expires - self._clock()).total_seconds()

    # -- trust ---------------------------------------------------------------------------

    async def reload_trust(self) -> bool:
        """Reload the trust file if it changed (BUNDLES §4.4: hot reload, last good kept on
        error). Then recompute floors (fast-forward recovery, §4.6) and re-check the active
        bundle, which is dropped if the new trust no longer vouches for it."""
        stamp = await asyncio.to_thread(_stamp, self.trust_path)
        if stamp == self._trust_stamp:
            return False
        async with self._lock:
            if not await self._load_trust():
                return False
            await self._after_trust_change()
        return True

    async def _load_trust(self) -> bool:
        stamp = await asyncio.to_thread(_stamp, self.trust_path)
        self._trust_stamp = stamp
        try:
            try:
                data = await asyncio.to_thread(self.trust_path.read_bytes)
            except OSError as exc:
                raise BundleError("bad_trust", f"cannot read {self.trust_path}: {exc}") from None
            trust = parse_trust(data)
        except BundleError as err:
            self._trust_error = LastError(
                code=err.code, message=err.message, revision=None,
                origin=str(self.trust_path), at=self._clock(),
            )  # fmt: skip
            if self._metrics is not None:
                self._metrics.bundle_trust_reloads.labels("error").inc()
            kept = "keeping the previous trust" if self._trust is not None else "no trust"
            log.error("trust file %s refused (%s); %s", self.trust_path, err, kept)
            return False
        self._trust = trust
        self._trust_error = None
        if self._metrics is not None:
            self._metrics.bundle_trust_reloads.labels("ok").inc()
        log.info("trust file %s loaded", self.trust_path)
        return True

    async def _after_trust_change(self) -> None:
        assert self._trust is not None
        if not self._writer:  # the writer stores the new floors; a follower re-reads them
            await self._recheck_active()
            return
        names = {
            name: msgspec.structs.replace(
                ns,
                floor_revision=recompute_floor(ns, self._trust, name, self.settings.min_revision),
            )
            for name, ns in self._state.names.items()
        }
        if names != dict(self._state.names):
            state = State(names=names)
            try:
                await asyncio.to_thread(self.store.write_state, encode_state(state))
            except OSError as exc:
                log.error("cannot store recomputed floors: %s", exc)
            self._state = state
        await self._recheck_active()

    async def _recheck_active(self) -> None:
        """Drop the active bundle when the trust no longer vouches for it."""
        active = self._active
        if active is None:
            return
        try:
            blob = self._active_blob
            await asyncio.to_thread(
                lambda: self._verify(blob, active.activated_at, peek_manifest(blob, self.limits))
            )
        except BundleError as err:
            self._active = None
            self._active_blob = b""
            if self._metrics is not None:
                self._metrics.bundle_active_revision.set(0)
            self._record(err, "trust reload", active.revision)
            log.error("active bundle %s r%d dropped: %s", active.name, active.revision, err)

    # -- status --------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        """The status document (BUNDLES §4.8), JSON-ready."""
        active = self._active
        now = self._clock()
        name = active.name if active else None
        ns = self._state.names.get(name) if name else None
        stale = active is not None and now >= active.expires
        download, check, last_error = self._times.download, self._times.check, self._last_error
        since = None if self._times.check_monotonic is None else (
            self._monotonic() - self._times.check_monotonic
        )  # fmt: skip
        writer = self._writer_record
        if writer is not None:  # a follower reports the writer's checks
            download, check = writer.download, writer.check
            since = None if check is None else (now - check).total_seconds()
            errors = [e for e in (last_error, writer.last_error) if e is not None]
            last_error = max(errors, key=lambda e: e.at, default=None)
        if active is None:
            overall = "degraded" if last_error else "waiting"
        else:
            overall = "stale" if stale else "ok"
        return {
            "status": overall,
            "name": name,
            "active_revision": active.revision if active else None,
            "sha256": active.sha256 if active else None,
            "expires": active.expires if active else None,
            "expires_in_seconds": self._expiry_seconds() if active else None,
            "stale": stale,
            "stale_policy": self.settings.stale_policy,
            "serving": self._serving(active, now).value,
            "signer_keyids": list(active.signer_keyids) if active else [],
            "floor": {n: s.floor_revision for n, s in self._state.names.items()},
            "etag": ns.etag if ns else None,
            "last_successful_activation": self._times.activation,
            "last_successful_download": download,
            "last_successful_check": check,
            "seconds_since_last_check": since,
            "last_error": last_error,
            "writer": {"pid": os.getpid() if writer is None else writer.pid, "self": self._writer},
            "trust": {"path": str(self.trust_path), "error": self._trust_error},
            "sources": list(self.settings.sources),
        }


def peek_manifest(blob: bytes, limits: Limits) -> Manifest | None:
    """The manifest, UNVERIFIED: only to pick the name's state, label errors and inspect."""
    try:
        return parse_manifest(read_archive(blob, limits)["manifest.json"])
    except (BundleError, KeyError):
        return None


def _latest_active(state: State) -> tuple[str, str] | None:
    """(name, sha256) of the bundle activated last, over every name."""
    records = [(ns.active, name) for name, ns in state.names.items() if ns.active is not None]
    if not records:
        return None
    record, name = max(records, key=lambda pair: pair[0].activated_at)
    return name, record.sha256


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
