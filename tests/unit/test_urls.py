"""The shared http(s) URL check: what passes, what is refused, and how a refused value is quoted."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.urls import MAX_URL_LENGTH, parse_http_url, shown


@pytest.mark.parametrize(
    ("text", "origin", "host", "port"),
    [
        ("registry.example.com", "https://registry.example.com", "registry.example.com", None),
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5000", "127.0.0.1", 5000),
        ("http://[::1]:5000", "http://[::1]:5000", "::1", 5000),
        ("https://Harbor.Example.com:443", "https://Harbor.Example.com:443", "harbor.example.com", 443),
        ("http://etcd_0.cluster.local:2379", "http://etcd_0.cluster.local:2379", "etcd_0.cluster.local", 2379),
        ("https://bücher.example", "https://bücher.example", "bücher.example", None),
    ],
)
def test_accepts_what_registries_and_etcd_are_reached_by(text, origin, host, port):
    url = parse_http_url(text, "--registry")
    assert (url.origin, url.host, url.port) == (origin, host, port)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "--registry is empty"),
        ("http://", "no host name"),
        ("http://a b", "cannot contain spaces"),
        ("http://a\tb", "cannot contain spaces or control characters"),
        ("http://127.0.0.1:99999", "port must be a number from 1 to 65535"),
        ("http://127.0.0.1:0", "port must be a number from 1 to 65535"),
        ("http://h:http", "port must be a number from 1 to 65535"),
        ("http://h:", "port must be a number from 1 to 65535"),
        ("http://[::1", "an IPv6 address goes in closed brackets"),
        ("http://[::g]:1", "not an IP address in the brackets"),
        ("ftp://h", "expected an http:// or https:// URL"),
        ("http://a..b", "not a valid host name"),
        ("http://-a.b", "not a valid host name"),
        ("http://" + "a" * 64 + ".b", "not a valid host name"),
        ("http://h/?q=1", "a query or fragment does not belong"),
        ("http://" + "a" * MAX_URL_LENGTH, f"too long for a URL (at most {MAX_URL_LENGTH:,} characters)"),
    ],
)
def test_refuses_with_the_option_and_the_problem(text, problem):
    with pytest.raises(BadInput) as info:
        parse_http_url(text, "--registry")
    assert problem in info.value.message
    assert info.value.message.startswith("--registry")


def test_quotes_an_excerpt_without_credentials():
    with pytest.raises(BadInput) as info:
        parse_http_url("https://admin:hunter22@harbor.example/v2", "--registry")
    assert "hunter22" not in info.value.message and "***@harbor.example" in info.value.message
    assert shown("user:pw with space@h") == "***@h"
    long = shown("http://" + "x" * 5000)
    assert len(long) < 120 and "5,007 characters" in long
