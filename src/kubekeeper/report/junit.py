"""JUnit XML writer shared by `lint` and `tune audit`: CI systems show findings as failed test cases.

One test suite; each finding is a failing test case, each check that passed a passing one, so a CI
dashboard shows what was checked and not only what failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree import ElementTree as ET

from kubekeeper.report.sarif import ReportItem


def _where(item: ReportItem) -> str:
    if not item.file:
        return ""
    return f"{item.file}:{item.line}" if item.line else item.file


def junit_document(suite: str, items: Iterable[ReportItem], passed: Iterable[str] = ()) -> str:
    """The XML text: <testsuites><testsuite> with one <testcase> per finding and per passed check."""
    items = list(items)
    passed = list(passed)
    root = ET.Element("testsuites", name=suite, tests=str(len(items) + len(passed)), failures=str(len(items)), errors="0")
    suite_el = ET.SubElement(root, "testsuite", name=suite, tests=str(len(items) + len(passed)),
                             failures=str(len(items)), errors="0", skipped="0")
    for item in items:
        where = _where(item)
        case = ET.SubElement(suite_el, "testcase", name=f"{item.rule_id} {where}".strip(), classname=f"{suite}.{item.rule_id}")
        failure = ET.SubElement(case, "failure", message=item.message, type=item.level)
        failure.text = f"{item.level}: {item.message}" + (f"\n  at {where}" if where else "")
    for name in passed:
        ET.SubElement(suite_el, "testcase", name=name, classname=f"{suite}.{name}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
