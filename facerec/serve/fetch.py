"""Fetching a client's ``image_url`` without becoming a proxy into the server's own network.

Server-side request forgery is the classic hole of "give me a URL and I fetch it". Here, by construction:

* http and https only, no credentials in the URL;
* the host is resolved once, every address it resolves to is checked, and the connection goes to that checked
  address (with the original host name for the ``Host`` header and TLS), so DNS cannot answer differently later;
* loopback, private, link-local, multicast, reserved and unspecified addresses are refused, unless
  ``ALLOW_PRIVATE_IMAGE_URLS=true`` or the address lies in ``FETCH_ALLOWED_NETWORKS``;
* redirects are followed by hand, at most ``FETCH_MAX_REDIRECTS``, each target checked like the first;
* connect and read time out, the whole fetch has a deadline (a server that trickles bytes cannot hold a request),
  and the size limit is enforced while the body streams.

Every failure is an :class:`ImageFetchError` whose message tells the client what went wrong (4xx).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ImageFetchError(ValueError):
    """The image URL cannot be fetched; the message is for the client."""


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"FETCH_ALLOWED_NETWORKS must be comma-separated CIDRs: {exc}") from exc


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is no place to fetch from, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):  # most specific first
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None


class ImageFetcher:
    def __init__(
        self,
        max_bytes: int,
        timeout_s: float = 10.0,
        max_redirects: int = 3,
        allow_private: bool = False,
        allowed_networks: str = "",
    ):
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self.allow_private = allow_private
        self.allowed_networks = parse_networks(allowed_networks)

    async def fetch(self, url: str) -> bytes:
        """The bytes at ``url`` (following checked redirects), or an :class:`ImageFetchError`."""
        deadline = time.monotonic() + 2 * self.timeout_s
        timeout = httpx.Timeout(self.timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            for _ in range(self.max_redirects + 1):
                target, host_header, server_name = await self._checked_target(url)
                try:
                    async with client.stream(
                        "GET",
                        target,
                        headers={"Host": host_header, "User-Agent": "facerec-image-fetch", "Accept": "image/*"},
                        extensions={"sni_hostname": server_name} if server_name else {},
                    ) as response:
                        if response.is_redirect:
                            location = response.headers.get("location")
                            if not location:
                                raise ImageFetchError(f"image_url answered {response.status_code} without a location")
                            url = urljoin(url, location)
                            continue
                        if response.status_code != 200:
                            raise ImageFetchError(f"image_url answered HTTP {response.status_code}")
                        return await self._read(response, deadline)
                except httpx.TimeoutException as exc:
                    raise ImageFetchError(f"image_url did not answer within {self.timeout_s:g} s") from exc
                except httpx.HTTPError as exc:
                    raise ImageFetchError(f"image_url could not be fetched ({exc.__class__.__name__})") from exc
        raise ImageFetchError(f"image_url redirected more than {self.max_redirects} times")

    async def _read(self, response: httpx.Response, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ImageFetchError(f"the image at image_url is {int(declared):,} bytes; the limit is {self.max_bytes:,}")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise ImageFetchError(f"the image at image_url is larger than the limit of {self.max_bytes:,} bytes")
            if time.monotonic() > deadline:
                raise ImageFetchError(f"image_url took longer than {2 * self.timeout_s:g} s to send the image")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _checked_target(self, url: str) -> tuple[str, str, str | None]:
        """(URL with the checked address as its host, Host header, TLS server name) for ``url``."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ImageFetchError(f"image_url is not a valid URL: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise ImageFetchError("image_url must be an http:// or https:// URL")
        if not parts.hostname:
            raise ImageFetchError("image_url has no host")
        if parts.username or parts.password:
            raise ImageFetchError("image_url must not carry credentials")
        port = port or (443 if parts.scheme == "https" else 80)
        address = await self._resolve(parts.hostname, port)
        host = f"[{address}]" if address.version == 6 else str(address)
        target = parts._replace(netloc=f"{host}:{port}").geturl()
        host_header = parts.netloc.rsplit("@", 1)[-1]
        is_name = not _is_ip_literal(parts.hostname)
        return target, host_header, parts.hostname if parts.scheme == "https" and is_name else None

    async def _resolve(self, host: str, port: int) -> IPAddress:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ImageFetchError(f"image_url's host {host!r} does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addresses:
            raise ImageFetchError(f"image_url's host {host!r} does not resolve")
        for address in addresses:  # every answer, so that no second lookup can pick an unchecked one
            why = refusal(address)
            if why and not self.allow_private and not any(address in net for net in self.allowed_networks):
                raise ImageFetchError(
                    f"image_url points at a {why} address ({address}); the server does not fetch from its own "
                    "network (ALLOW_PRIVATE_IMAGE_URLS or FETCH_ALLOWED_NETWORKS change that)"
                )
        return addresses[0]


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
