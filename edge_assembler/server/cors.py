"""CORS (Fetch standard §3.2): players on other origins read manifests and segments."""

from collections.abc import Mapping

from edge_assembler.config import Cors


def response_headers(policy: Cors, origin: str | None) -> dict[str, str]:
    """Headers for an actual (non-preflight) response to a request from ``origin``."""
    allowed = _allowed_origin(policy, origin)
    if allowed is None:
        return {}
    headers = {"Access-Control-Allow-Origin": allowed}
    if allowed != "*":
        headers["Vary"] = "Origin"
    if policy.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    if policy.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(policy.expose_headers)
    return headers


def preflight_headers(policy: Cors, request: Mapping[str, str]) -> dict[str, str] | None:
    """Headers answering a preflight, or None when the request is not allowed."""
    allowed = _allowed_origin(policy, request.get("Origin"))
    method = request.get("Access-Control-Request-Method", "")
    if allowed is None or method.upper() not in policy.allow_methods:
        return None
    asked = [h.strip() for h in request.get("Access-Control-Request-Headers", "").split(",")]
    permitted = {h.lower() for h in policy.allow_headers}
    if any(h and h.lower() not in permitted for h in asked) and "*" not in policy.allow_headers:
        return None
    headers = {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Methods": ", ".join(policy.allow_methods),
        "Access-Control-Allow-Headers": ", ".join(policy.allow_headers),
        "Access-Control-Max-Age": str(policy.max_age),
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    if policy.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def _allowed_origin(policy: Cors, origin: str | None) -> str | None:
    if not policy.enabled or origin is None:
        return None
    if "*" in policy.allow_origins:
        return "*"
    return origin if origin in policy.allow_origins else None
