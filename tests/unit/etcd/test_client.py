"""Endpoint parsing, TLS option checks, and leader discovery from what members report."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.etcd.client import ClusterView, Endpoint, Member, MemberStatus, TLSConfig, parse_endpoints


def status(url: str, member: int, leader: int, term: int = 2) -> MemberStatus:
    return MemberStatus(url, member, leader, "3.5.1", 1000, 50, term, 10)


MEMBERS = (
    Member(1, "m1", ("http://p1",), ("http://c1:2379",)),
    Member(2, "m2", ("http://p2",), ("http://c2:2379",)),
    Member(3, "m3", ("http://p3",), ("http://c3:2379",)),
)


def test_parse_endpoints_defaults_and_dedup():
    endpoints = parse_endpoints("127.0.0.1:2379, http://127.0.0.1:2379,https://h:3000")
    assert [e.url for e in endpoints] == ["http://127.0.0.1:2379", "https://h:3000"]
    with pytest.raises(BadInput):
        parse_endpoints(" , ")
    with pytest.raises(BadInput):
        Endpoint.parse("ftp://x:1")


def test_tls_needs_cert_and_key_together(tmp_path):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(BadInput, match="--cert and --key"):
        TLSConfig(cert=cert)
    with pytest.raises(BadInput, match="not found"):
        TLSConfig(cacert=tmp_path / "missing.pem")
    tls = TLSConfig(cacert=cert)
    assert Endpoint.parse("h:2379", tls).secure


def test_leader_from_followers_points_to_listed_endpoint_first():
    view = ClusterView((status("http://a", 2, 3), status("http://b", 3, 3)), MEMBERS)
    assert view.leader_id == 3 and view.leader.name == "m3"
    assert view.leader_urls() == ["http://b", "http://c3:2379"]


def test_leader_not_listed_uses_advertised_urls():
    view = ClusterView((status("http://a", 1, 2),), MEMBERS)
    assert view.leader_urls() == ["http://c2:2379"]
    assert view.name_of(2) == "m2" and view.name_of(99) == "63"


def test_no_leader():
    view = ClusterView((status("http://a", 1, 0),), MEMBERS)
    assert view.leader_id == 0 and view.leader_urls() == []
