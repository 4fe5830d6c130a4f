"""Semantic versions and the npm-style ranges recipes use in VersionRequirement."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_PARTIAL = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$")
_COMPARATOR = re.compile(r"^(<=|>=|<|>|=|\^|~)?\s*(\S+)$")

Version = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


class VersionError(ValueError):
    pass


def _prerelease(text: str | None) -> tuple[tuple[int, int | str], ...]:
    if not text:
        return ()
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in text.split("."))


def parse_version(text: str) -> Version:
    match = _VERSION.match(text.strip())
    if not match:
        raise VersionError(f"not a semantic version: {text!r}")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), _prerelease(pre)


def is_version(text: str) -> bool:
    return bool(_VERSION.match(text.strip()))


def _key(version: Version) -> tuple:
    # A pre-release sorts before its release: (1, 0, 0, alpha) < (1, 0, 0).
    major, minor, patch, pre = version
    return (major, minor, patch, 0 if pre else 1, pre)


def version_order(text: str) -> tuple:
    """A sort key of a semantic version, pre-releases before their release."""
    return _key(parse_version(text))


def _compare(a: Version, b: Version) -> int:
    ka, kb = _key(a), _key(b)
    return (ka > kb) - (ka < kb)


def _bounds(operator: str, text: str) -> list[tuple[str, Version]]:  # noqa: PLR0911, PLR0912 - npm's table
    """One comparator -> a list of (op, version) checks that must all hold."""
    match = _PARTIAL.match(text)
    if not match:
        raise VersionError(f"bad version in range: {text!r}")
    parts = [None if p is None or p in "xX*" else int(p) for p in match.groups()[:3]]
    pre = _prerelease(match.group(4))
    if parts[0] is None:
        return []
    major = parts[0]
    minor = parts[1] if parts[1] is not None else None
    patch = parts[2] if parts[2] is not None else None
    low: Version = (major, minor or 0, patch or 0, pre)
    if minor is None:
        high: Version | None = (major + 1, 0, 0, ())
    elif patch is None:
        high = (major, minor + 1, 0, ())
    else:
        high = None
    if operator == "^":
        if major > 0 or minor is None:
            high = (major + 1, 0, 0, ())
        elif minor > 0 or patch is None:
            high = (0, minor + 1, 0, ())
        else:
            high = (0, 0, patch + 1, ())
        return [(">=", low), ("<", high)]
    if operator == "~":
        high = (major, (minor or 0) + 1, 0, ()) if minor is not None else (major + 1, 0, 0, ())
        return [(">=", low), ("<", high)]
    if operator in ("", "="):
        return [(">=", low), ("<", high)] if high else [("=", low)]
    if operator == ">":
        return [(">=", high)] if high else [(">", low)]
    if operator == "<=":
        return [("<", high)] if high else [("<=", low)]
    return [(operator, low)]


def _holds(version: Version, operator: str, bound: Version) -> bool:
    result = _compare(version, bound)
    return {"=": result == 0, ">": result > 0, ">=": result >= 0, "<": result < 0, "<=": result <= 0}[operator]


def satisfies(version: str, requirement: str) -> bool:
    """npm semantics for the forms recipes use: `>=1.0.0 <2.0.0`, `^2.0.0`, `~1.2`, `1.x`, `*`, `a || b`, `a - b`."""
    parsed = parse_version(version)
    for alternative in (requirement or "*").split("||"):
        checks: list[tuple[str, Version]] = []
        text = alternative.strip()
        hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
        if hyphen:
            checks += _bounds(">=", hyphen.group(1)) + _bounds("<=", hyphen.group(2))
        else:
            # "> = 1.0.0" style spacing is not npm; join an operator with the version that follows it.
            for token in re.findall(r"(?:<=|>=|<|>|=|\^|~)?\s*[^\s<>=^~]+", text):
                match = _COMPARATOR.match(token.strip())
                if not match:
                    raise VersionError(f"bad version requirement: {requirement!r}")
                checks += _bounds(match.group(1) or "", match.group(2))
        # npm: a pre-release only satisfies a range naming a pre-release of the same x.y.z.
        if parsed[3] and not any(b[3] and b[:3] == parsed[:3] for _, b in checks):
            continue
        if all(_holds(parsed, op, bound) for op, bound in checks):
            return True
    return False
