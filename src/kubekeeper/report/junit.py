"""JUnit XML (the Ant/Jenkins dialect CI systems read): the one JUnit writer, for `lint` and `tune audit`.

Callers hand over suites of test cases; every check that passed is a passing case and every finding a
failing one, so a CI dashboard shows what was checked and not only what failed. Input that could not
be checked is an `error` case, input skipped on purpose a `skipped` one. Counts are derived here.
Nothing is timed, so every `time` is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

Outcome = Literal["passed", "failure", "error", "skipped"]
_COUNTED = {"failure": "failures", "error": "errors", "skipped": "skipped"}


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    outcome: Outcome = "passed"
    message: str = ""  # the outcome element's `message`
    type: str | None = None  # its `type` (failure and error)
    text: str | None = None  # its body (failure and error)


@dataclass(frozen=True)
class Suite:
    name: str
    cases: Sequence[Case]


def _counts(cases: Sequence[Case]) -> dict[str, int]:
    counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        if case.outcome in _COUNTED:
            counts[_COUNTED[case.outcome]] += 1
    return counts


def _case(suite_el: ET.Element, case: Case) -> None:
    case_el = ET.SubElement(suite_el, "testcase", name=case.name, classname=case.classname, time="0")
    if case.outcome == "skipped":
        ET.SubElement(case_el, "skipped", message=case.message)
    elif case.outcome != "passed":
        outcome = ET.SubElement(case_el, case.outcome, message=case.message)
        if case.type is not None:
            outcome.set("type", case.type)
        outcome.text = case.text


def junit_document(name: str, suites: Sequence[Suite]) -> str:
    """The XML text: <testsuites> with one <testsuite> per suite, counts filled in."""
    totals = {"tests": 0, "failures": 0, "errors": 0}
    root = ET.Element("testsuites", name=name, tests="0", failures="0", errors="0", time="0")
    for suite in suites:
        counts = _counts(suite.cases)
        suite_el = ET.SubElement(root, "testsuite", {"name": suite.name, **{k: str(v) for k, v in counts.items()}, "time": "0"})
        for case in suite.cases:
            _case(suite_el, case)
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
