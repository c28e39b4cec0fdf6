"""The source distribution carries the licence and the docs the README links to (PyPI users read the
README there, with its links into docs/). Built offline with setuptools' own PEP 517 backend."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_license_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_sdist_has_license_and_every_linked_doc(tmp_path, monkeypatch) -> None:
    from setuptools import build_meta

    monkeypatch.chdir(ROOT)
    name = build_meta.build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / name) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    linked = set(re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text()))
    assert linked and linked <= members, linked - members
    assert {"LICENSE", "README.md"} <= members
