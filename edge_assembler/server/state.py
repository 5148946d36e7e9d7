"""Typed keys of the app's shared state."""

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from cachetools import LRUCache

from edge_assembler.bundles.manager import ActiveBundle, BundleManager
from edge_assembler.config import NodeConfig
from edge_assembler.core.routing import Router
from edge_assembler.metrics import Metrics
from edge_assembler.origin.cache import ManifestCache
from edge_assembler.origin.client import OriginClient
from edge_assembler.server.personalise import Personaliser


@dataclass(slots=True)
class Readiness:
    started: bool = False
    draining: bool = False
    # Set when a rules bundle must be active before traffic (BUNDLES §4.7 "Startup").
    has_bundle: Callable[[], bool] | None = None

    @property
    def ready(self) -> bool:
        return self.started and not self.draining and self.why_not_bundle() is None

    def why_not_bundle(self) -> str | None:
        if self.has_bundle is None or self.has_bundle():
            return None
        return "no rules bundle active"


CONFIG = web.AppKey("config", NodeConfig)
METRICS = web.AppKey("metrics", Metrics)
ROUTER = web.AppKey("router", Router)
READINESS = web.AppKey("readiness", Readiness)
ORIGINS = web.AppKey("origins", OriginClient)
CACHE = web.AppKey("cache", ManifestCache)
BUNDLES = web.AppKey("bundles", BundleManager)
PERSONALISE = web.AppKey("personalise", Personaliser)
# Paths without a manifest suffix that the origin answered with a manifest content type.
LEARNED = web.AppKey("learned_manifests", LRUCache[str, bool])

# Per-request facts for the access log.
ROUTE = web.RequestKey("route", str)
CACHE_STATUS = web.RequestKey("cache_status", str)
ORIGIN_SECONDS = web.RequestKey[float | None]("origin_seconds")
# The rules snapshot of this request, read once at its start (None: no rules applied).
RULES = web.RequestKey[ActiveBundle | None]("rules")
