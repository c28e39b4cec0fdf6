"""The delta format: what the follower writes reads back exactly, damage is named, and folding gives
the last operation per key up to a revision."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput, VerificationFailed
from kubekeeper.etcd.delta import DELETE, PUT, Delta, Event, Folded, check_contiguous, parse
from kubekeeper.etcd.follow import parse_duration, parse_size


def events() -> list[Event]:
    return [
        Event(11, PUT, b"/a", b"\x00\xffbinary,value\n", 11, 1, 0, 100.25),
        Event(12, PUT, b"/b", b"b1", 12, 1, 7587, 100.5),
        Event(12, DELETE, b"/c", seen=100.5),  # two events of one transaction share a revision
        Event(13, PUT, b"/a", b"a2", 11, 2, 0, 101.0),
    ]


def test_a_delta_reads_back_exactly() -> None:
    delta = Delta("1a2b3c4d", events(), keys=42, leases={7587: 3600})
    back = parse(b"".join(delta.lines()))
    assert back.events == delta.events
    assert (back.chain, back.keys, back.leases, back.first, back.last) == ("1a2b3c4d", 42, {7587: 3600}, 11, 13)


def test_a_truncated_or_foreign_delta_is_named() -> None:
    data = b"".join(Delta("1a2b3c4d", events()).lines())
    with pytest.raises(VerificationFailed, match="delta x: header says 4 events"):
        parse(data.rsplit(b"\n", 2)[0], name="delta x")
    with pytest.raises(VerificationFailed, match="unreadable delta"):
        parse(b'{"format": "something-else"}\n')


def test_fold_keeps_the_last_operation_per_key_up_to_a_revision() -> None:
    folded = Folded()
    assert folded.add(events(), upto=12) is False  # stopped at revision 13
    assert folded.revision == 12 and folded.events == 3
    assert [e.key for e in folded.puts()] == [b"/a", b"/b"] and folded.deletes() == [b"/c"]
    assert folded.last[b"/a"].value.startswith(b"\x00")
    everything = Folded()
    everything.add(events())
    assert everything.last[b"/a"].value == b"a2" and everything.revision == 13


def test_a_missing_or_overlapping_revision_breaks_the_chain() -> None:
    check_contiguous([("d1", 11, 20), ("d2", 21, 30)], 10)
    with pytest.raises(VerificationFailed, match="chain broken at delta d2: it starts at revision 22, expected 21"):
        check_contiguous([("d1", 11, 20), ("d2", 22, 30)], 10)
    with pytest.raises(VerificationFailed, match="overlapping"):
        check_contiguous([("d1", 10, 20)], 10)


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5), ("500ms", 0.5), ("1h30m", 5400), ("24h", 86400), ("2.5", 2.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--delta-interval") == seconds


@pytest.mark.parametrize("text", ["", "5x", "0s", "-1", "nan", "5s5"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(BadInput, match="--delta-interval"):
        parse_duration(text, "--delta-interval")


def test_sizes() -> None:
    assert parse_size("256MiB", "--max-buffer") == 256 << 20
    assert parse_size("1000", "--max-buffer") == 1000
    with pytest.raises(BadInput, match="--max-buffer '12 parsecs'"):
        parse_size("12 parsecs", "--max-buffer")
