"""Checks on what `deploy render` writes into manifests: a wrong value is a one-line BadInput here,
not an object the API server rejects (or, worse, accepts) after the operator applied half of them."""

from __future__ import annotations

import re
import zoneinfo

from kubekeeper.errors import BadInput

#: (name, low, high, names) of a cron field
CronField = tuple[str, int, int, dict[str, int]]
#: the five fields, as Kubernetes' cron parser (robfig/cron ParseStandard) takes them
FIELDS: tuple[CronField, ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}),
    ("day of week", 0, 6, {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}),
)
DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
#: registry/name[:tag][@digest], the shape the kubelet pulls (no spaces, no scheme)
IMAGE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?")


def _value(text: str, field: CronField) -> int:
    name, low, high, names = field
    number = names.get(text.upper()) if names else None
    if number is None:
        if not text.isdigit():
            raise ValueError(f"{text!r} is not a {name}")
        number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{name} {number} is out of range {low}-{high}")
    return number


def _check_field(text: str, field: CronField) -> None:
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"step {step!r} in {part!r} must be a positive number")
        if base in ("*", "?"):
            if base == "?" and field[0] not in ("day of month", "day of week"):
                raise ValueError(f"'?' is only allowed for day of month or day of week, not {field[0]}")
            continue
        start, dash, end = base.partition("-")
        low = _value(start, field)
        if dash and _value(end, field) < low:
            raise ValueError(f"range {base!r} ends before it starts")


def cron_schedule(text: str, option: str = "--schedule") -> str:
    """A schedule the CronJob controller accepts: five fields or a descriptor, no TZ= prefix."""
    schedule = " ".join(text.split())
    if schedule.startswith(("TZ=", "CRON_TZ=")):
        raise BadInput(f"{option} {text!r}: give the time zone with --time-zone, not in the schedule")
    if schedule.startswith("@"):
        if schedule not in DESCRIPTORS:
            raise BadInput(f"{option} {text!r}: not a schedule Kubernetes accepts (one of {', '.join(DESCRIPTORS)}, or five fields)")
        return schedule
    fields = schedule.split(" ")
    if len(fields) != 5:
        raise BadInput(f"{option} {text!r}: a cron schedule has five fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    for part, field in zip(fields, FIELDS, strict=True):
        try:
            _check_field(part, field)
        except ValueError as exc:
            raise BadInput(f"{option} {text!r}: {exc}") from exc
    return schedule


def dns_label(text: str, option: str) -> str:
    """Namespace-like names: RFC 1123 label, at most 63 characters."""
    if len(text) > 63 or not DNS_LABEL.fullmatch(text):
        raise BadInput(f"{option} {text!r}: must be lower-case letters, digits and '-' (at most 63, starting and ending alphanumeric)")
    return text


def dns_subdomain(text: str, option: str) -> str:
    """Secret, PriorityClass, StorageClass names: RFC 1123 subdomain, at most 253 characters."""
    if len(text) > 253 or not DNS_SUBDOMAIN.fullmatch(text):
        raise BadInput(f"{option} {text!r}: must be a DNS subdomain name (lower-case letters, digits, '-' and '.')")
    return text


def image_reference(text: str) -> str:
    if not IMAGE.fullmatch(text):
        raise BadInput(f"--image {text!r}: not an image reference (registry/name:tag or @sha256:digest)")
    return text


def time_zone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput(f"--time-zone {text!r}: not a time zone name of the tz database (e.g. Europe/Berlin, Etc/UTC)") from exc
    return text


def quantity(text: str, option: str) -> str:
    """A Kubernetes resource quantity such as 512Mi, 50Gi, 1.5, 250m."""
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?([EPTGMK]i|[mkMGTPE])?", text):
        raise BadInput(f"{option} {text!r}: not a Kubernetes quantity (e.g. 512Mi, 50Gi)")
    return text


def http_url(text: str, option: str) -> str:
    if not re.fullmatch(r"https?://[^\s/@]+(:[0-9]+)?(/\S*)?", text):
        raise BadInput(f"{option} {text!r}: must be an http:// or https:// URL without credentials")
    return text
