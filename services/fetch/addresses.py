"""Safety: which URLs and IP addresses the fetcher may reach.

URLs come from other people (feeds, the CLI, the API), so a URL must never make the service
talk to itself, the local network or a cloud metadata endpoint (server-side request forgery).
The check runs on the addresses a host name resolves to, at connection time, for every
connection (so every redirect hop too), and the connection goes to the very address checked:
a DNS answer that changes between check and connect (DNS rebinding) cannot slip through."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Iterable
from urllib.parse import urlsplit

import httpcore
from httpcore import AnyIOBackend, AsyncNetworkBackend, AsyncNetworkStream

from .errors import FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")

# Metadata services that are not caught by the generic ranges below on every cloud.
_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")}


class AddressRefused(FetchRefused):
    """The URL's host is, or resolves to, an address we do not fetch from."""


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """'127.0.0.0/8', '10.1.2.3' -> networks; a bad entry is a configuration error."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def refusal_reason(ip: IPAddress) -> str | None:
    """Why an address is not a public internet address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = (
        (ip in _METADATA, "cloud metadata"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    )
    return next((why for hit, why in checks if hit), None)


def is_allowed_address(ip: IPAddress | str, allowed_networks: Iterable[Network] = ()) -> bool:
    """Public addresses are allowed; others only inside a configured allowed network."""
    ip = ipaddress.ip_address(ip)
    return refusal_reason(ip) is None or any(ip in net for net in allowed_networks if ip.version == net.version)


def check_url(url: str) -> None:
    """Only http(s) URLs with a host are fetched (no file:, ftp:, gopher:, data:, ...)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchRefused(f"scheme {parts.scheme or '(none)'!r} refused: only http and https are fetched")
    if not parts.hostname:
        raise FetchRefused(f"no host in {url!r}")


async def resolve(host: str, port: int) -> list[str]:
    """All addresses of a host name (IP literals need no lookup)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class GuardedBackend(AsyncNetworkBackend):
    """httpcore's network backend with the address check in front of every TCP connect."""

    def __init__(self, allowed_networks: Iterable[Network] = (), resolver=resolve):
        self.allowed = tuple(allowed_networks)
        self.resolver = resolver
        self.inner = AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options=None) -> AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.resolver(host, port), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        # One refused address refuses the host: a name that mixes public and private answers
        # is a rebinding trick, not a news site.
        for address in addresses:
            if not is_allowed_address(address, self.allowed):
                why = refusal_reason(ipaddress.ip_address(address))
                named = f"{host} is {address}" if host.strip("[]") != address else address
                raise AddressRefused(f"{named}: a {why} address, refused (see NEWSFLOW_FETCH_ALLOWED_NETWORKS)")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise AddressRefused("unix sockets are never fetched from")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
