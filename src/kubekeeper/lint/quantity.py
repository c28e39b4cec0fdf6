"""Kubernetes resource.Quantity parsing, exact (Fraction), so QoS comparisons match the API server's.

Requests and limits are compared as the API server stores them: `SetDefaults_ResourceList`
(pkg/apis/core/v1/defaults.go) rounds every value up to milli-units (`RoundUp(-3)`), so `1500u` of
cpu is stored as `2m`. `millis()` gives that value as an integer number of milli-units, which keeps
the arithmetic exact and cheap.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

from kubekeeper.errors import BadInput

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}
_PATTERN = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")


@lru_cache(maxsize=4096)  # manifests repeat a handful of quantities thousands of times
def parse_quantity(value: object) -> Fraction:
    """Parse '100m', '1.5Gi', '1e3', 2 ... exactly; raises ValueError for anything Kubernetes rejects."""
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    match = _PATTERN.match(str(value).strip())
    if not match:
        raise ValueError(f"invalid quantity {value!r}")
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * Fraction(10) ** int(suffix[1:])


@lru_cache(maxsize=4096)
def millis(value: object) -> int:
    """The quantity in milli-units, rounded up as the API server's defaulting does; ValueError if invalid."""
    return math.ceil(parse_quantity(value) * 1000)


def millis_or_bad_input(value: object, where: str) -> int:
    try:
        if not isinstance(value, (str, int, float)):
            raise ValueError(f"invalid quantity {value!r}")
        return millis(value)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None
