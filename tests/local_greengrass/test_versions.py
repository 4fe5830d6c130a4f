"""npm-style VersionRequirement ranges, as recipes use them."""

import pytest

from local_greengrass.deployment.versions import VersionError, parse_version, satisfies


@pytest.mark.parametrize(
    ("version", "requirement", "expected"),
    [
        ("1.0.0", ">=1.0.0 <2.0.0", True),
        ("1.9.9", ">=1.0.0 <2.0.0", True),
        ("2.0.0", ">=1.0.0 <2.0.0", False),
        ("0.9.0", ">=1.0.0 <2.0.0", False),
        ("2.0.3", "^2.0.0", True),
        ("3.0.0", "^2.0.0", False),
        ("0.2.5", "^0.2.0", True),
        ("0.3.0", "^0.2.0", False),
        ("1.2.9", "~1.2.0", True),
        ("1.3.0", "~1.2.0", False),
        ("1.4.0", "1.x", True),
        ("2.0.0", "1.x", False),
        ("5.0.0", "*", True),
        ("1.0.0", "1.0.0", True),
        ("1.0.1", "=1.0.0", False),
        ("3.1.0", "^1.0.0 || ^3.0.0", True),
        ("1.5.0", "1.0.0 - 2.0.0", True),
        ("2.0.1", "1.0.0 - 2.0.0", False),
        ("2.0.0-beta.1", "^1.0.0", False),
        ("2.0.0-beta.1", ">=2.0.0-beta.0", True),
        ("1.0.0", ">1.0.0", False),
    ],
)
def test_satisfies(version: str, requirement: str, expected: bool) -> None:
    assert satisfies(version, requirement) is expected


def test_prerelease_sorts_before_release() -> None:
    assert satisfies("1.0.0", ">1.0.0-alpha")
    assert not satisfies("1.0.0-alpha", ">=1.0.0-beta")


def test_garbage_is_an_error() -> None:
    with pytest.raises(VersionError):
        parse_version("one")
    with pytest.raises(VersionError):
        satisfies("1.0.0", ">=banana")
