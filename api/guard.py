"""The first thing every request meets, before FastAPI reads a byte of its body.

An ASGI middleware rather than FastAPI dependencies because dependencies run after the body was parsed: a multipart
upload is spooled to disk before any route code sees it. Here, in order:

1. a request id (the client's ``X-Request-ID`` when it is sane), echoed in the answer and used in the logs;
2. address check: an API without keys answers loopback clients only, unless ``ALLOW_UNAUTHENTICATED``;
3. key check on ``/api/`` (and ``/metrics`` if asked): ``X-API-Key`` compared in constant time with every key;
4. rate limit per key (or client address) when ``LIMITS_REQUESTS_PER_MINUTE`` is set;
5. body size: refused from ``Content-Length`` at once, and counted while streaming (chunked bodies), so a client can
   neither fill the disk nor the memory.

Every refusal is the API's one error shape, ``{"error": true, "msg": ..., "request_id": ...}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import threading
import time
import uuid
from collections import defaultdict, deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = ("/health", "/ready", "/docs", "/redoc", "/openapi.json")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "testclient":  # Starlette's TestClient: an in-process caller, like loopback
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def error_body(status: int, msg: str, request_id: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": True, "msg": msg, "request_id": request_id}).encode()


class RateLimiter:
    """At most ``per_minute`` requests per client in any 60-second window (sliding log)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._log: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            log = self._log[client]
            while log and now - log[0] >= 60:
                log.popleft()
            if len(log) >= self.per_minute:
                return False
            log.append(now)
            return True


class Guard:
    """ASGI middleware; reads the settings of the running service from ``app.state.service``."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self._limiter: RateLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given_id = headers.get("x-request-id", "")
        request_id = given_id if _REQUEST_ID.fullmatch(given_id) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        service = getattr(scope["app"].state, "service", None) if "app" in scope else None
        refusal = self._refusal(scope, headers, service, request_id) if service is not None else None
        if refusal is not None:
            await self._answer(send_with_id, *refusal)
            return
        limit = service.settings.limits.body_bytes if service is not None else None
        if limit is None or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send_with_id)
            return
        received = 0
        started = refused = False

        async def counted_receive() -> Message:
            # a chunked body has no Content-Length: count it as it streams, and answer 413 as soon as it is too large.
            # Raising here would not do: the form parser turns any error into its own 400.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._answer(send_with_id, *self._too_large(limit, request_id))
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:  # the app's answer to the cut-off body is dropped: the client already has its 413
                return
            started = started or message["type"] == "http.response.start"
            await send_with_id(message)

        await self.app(scope, counted_receive, tracked_send)

    def _too_large(self, limit: int, request_id: str) -> tuple[int, bytes]:
        return error_body(413, f"the request body is larger than the limit of {limit:,} bytes", request_id)

    def _refusal(self, scope: Scope, headers: dict[str, str], service, request_id: str) -> tuple[int, bytes] | None:
        settings = service.settings
        path: str = scope["path"]
        keys = settings.keys()
        client = (scope.get("client") or (None, None))[0]
        if not keys and not settings.allow_unauthenticated and not is_loopback(client):
            return error_body(
                403,
                "this API has no API_KEY and answers only on the machine it runs on "
                "(set API_KEY, or ALLOW_UNAUTHENTICATED=true behind your own authentication)",
                request_id,
            )
        protected = path.startswith("/api/") or (path == "/metrics" and settings.metrics_require_key)
        key_name = None
        if protected and keys:
            given = headers.get("x-api-key", "").encode()
            # compare with every key (no early exit), so timing says nothing about which key or how much matched
            matches = [name for name, secret in keys.items() if hmac.compare_digest(given, secret.encode())]
            if not matches:
                return error_body(401, "missing or wrong X-API-Key header", request_id)
            key_name = matches[0]
        scope["state"]["api_key_name"] = key_name
        per_minute = settings.limits.requests_per_minute
        if per_minute and protected:
            if self._limiter is None or self._limiter.per_minute != per_minute:
                self._limiter = RateLimiter(per_minute)
            if not self._limiter.allow(key_name or client or "unknown"):
                return error_body(429, f"more than {per_minute} requests in a minute; slow down", request_id)
        length = headers.get("content-length")
        limit = settings.limits.body_bytes
        if length is not None:
            if not length.isdigit():
                return error_body(400, "Content-Length is not a number", request_id)
            if int(length) > limit:
                return self._too_large(limit, request_id)
        return None

    @staticmethod
    async def _answer(send: Send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'ApiKey header="X-API-Key"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
