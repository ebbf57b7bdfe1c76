"""Safety checks of the fetcher, without any network: addresses, schemes, the guarded connect."""

import ipaddress

import pytest

from newsflow.fetch.addresses import AddressRefused, GuardedBackend, check_url, is_allowed_address, parse_networks, refusal_reason
from newsflow.fetch.errors import FetchRefused

LOOPBACK = parse_networks(["127.0.0.0/8"])


@pytest.mark.parametrize("ip, why", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd12::1", "private"),
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"), ("100.100.100.200", "cloud metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),  # IPv4-mapped IPv6
])
def test_non_public_addresses_are_refused_with_the_reason(ip, why):
    assert refusal_reason(ipaddress.ip_address(ip)) == why
    assert not is_allowed_address(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "151.101.1.69"])
def test_public_addresses_are_allowed(ip):
    assert refusal_reason(ipaddress.ip_address(ip)) is None and is_allowed_address(ip)


def test_the_allow_list_permits_only_its_networks():
    assert is_allowed_address("127.0.0.1", LOOPBACK) and is_allowed_address("127.42.0.3", LOOPBACK)
    assert not is_allowed_address("10.0.0.1", LOOPBACK)
    assert not is_allowed_address("169.254.169.254", LOOPBACK)
    assert not is_allowed_address("::1", LOOPBACK)  # IPv6 loopback is not in an IPv4 network
    assert parse_networks(["10.1.2.3", " ", "fd00::/8"]) == (ipaddress.ip_network("10.1.2.3/32"), ipaddress.ip_network("fd00::/8"))
    with pytest.raises(ValueError):
        parse_networks(["not-a-network"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a", "gopher://x:70/", "data:text/html,hi",
                                 "javascript:alert(1)", "//example.com/a", "http:///nohost"])
def test_only_http_and_https_urls_with_a_host_are_fetched(url):
    with pytest.raises(FetchRefused):
        check_url(url)


def test_http_and_https_pass():
    check_url("http://example.com/a")
    check_url("HTTPS://Example.com:8443/a?b=c")


class _Inner:
    """Stands in for the real socket backend: records where it would connect."""

    def __init__(self):
        self.connected = []

    async def connect_tcp(self, host, port, **kw):
        self.connected.append((host, port))
        return "stream"


def _backend(answers: dict[str, list[str]], allowed=()):
    async def resolver(host, port):
        return answers[host]

    backend = GuardedBackend(allowed, resolver)
    backend.inner = _Inner()
    return backend


async def test_a_host_name_resolving_to_a_private_address_is_refused_before_connecting():
    backend = _backend({"intranet.example": ["10.0.0.7"]})
    with pytest.raises(AddressRefused, match="intranet.example is 10.0.0.7: a private address"):
        await backend.connect_tcp("intranet.example", 80)
    assert backend.inner.connected == []


async def test_one_private_answer_among_public_ones_refuses_the_host():
    backend = _backend({"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(AddressRefused, match="loopback"):
        await backend.connect_tcp("rebind.example", 443)
    assert backend.inner.connected == []


async def test_the_connection_goes_to_the_checked_address_not_the_name():
    backend = _backend({"news.example": ["93.184.216.34"], "local.test": ["127.0.0.2"]}, LOOPBACK)
    assert await backend.connect_tcp("news.example", 443) == "stream"
    assert await backend.connect_tcp("local.test", 8080) == "stream"
    assert backend.inner.connected == [("93.184.216.34", 443), ("127.0.0.2", 8080)]


async def test_metadata_address_is_refused_even_as_an_ip_literal():
    backend = GuardedBackend(LOOPBACK)  # the real resolver: an IP literal needs no lookup
    backend.inner = _Inner()
    with pytest.raises(AddressRefused, match="cloud metadata"):
        await backend.connect_tcp("169.254.169.254", 80)
    assert backend.inner.connected == []
