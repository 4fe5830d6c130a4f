"""OperatorView's configuration: loopback by default, a token required anywhere else, strict values."""

from __future__ import annotations

import pytest

from operator_view.settings import OperatorViewConfig
from smartcam.config import ConfigError, validate_config
from tests.support.config_fuzz import recipe_defaults

TOKEN = "t" * 32


def config(**raw: object) -> OperatorViewConfig:
    return validate_config(OperatorViewConfig, raw)


def test_the_defaults_listen_on_loopback_without_a_token():
    defaults = config()
    assert (defaults.host, defaults.port, defaults.token) == ("127.0.0.1", 8420, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "fe80::1"])  # nosec B104
def test_a_bind_beyond_loopback_is_refused_without_a_token(host):
    with pytest.raises(ConfigError, match="not loopback: a token is required"):
        config(host=host)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::"])  # nosec B104
def test_a_bind_beyond_loopback_is_accepted_with_a_token(host):
    assert config(host=host, token=TOKEN).token == TOKEN


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1"])
def test_every_loopback_address_needs_no_token(host):
    assert config(host=host).host == host


@pytest.mark.parametrize("host", ["localhost", "camera.local", "", "127.0.0.1 ", "300.1.1.1", 127])
def test_a_host_must_be_an_ip_address(host):
    with pytest.raises(ConfigError, match="host"):
        config(host=host)


@pytest.mark.parametrize("port", [0, 80, 1023, 65536, "8420", 8420.5, True])
def test_a_port_outside_1024_to_65535_or_not_a_whole_number_is_refused(port):
    with pytest.raises(ConfigError, match="port"):
        config(port=port)


@pytest.mark.parametrize("token", ["short", "t" * 31, "t" * 257, "with space" + "t" * 30, "a;b" + "t" * 30,
                                   "ä" * 32, 12345678901234567890123456789012])
def test_a_token_too_short_too_long_or_with_unsafe_characters_is_refused(token):
    with pytest.raises(ConfigError, match="token"):
        config(token=token)


@pytest.mark.parametrize("key, value", [("maxFps", 0), ("maxFps", 11), ("recentEvents", 0), ("recentEvents", 201),
                                        ("metricPoints", 9), ("metricPoints", 1001), ("unknownKey", 1)])
def test_out_of_range_or_unknown_settings_are_refused(key, value):
    with pytest.raises(ConfigError, match=key):
        config(**{key: value})


def test_the_recipe_defaults_are_valid_and_those_of_the_model():
    assert validate_config(OperatorViewConfig, recipe_defaults("OperatorView")) == OperatorViewConfig()
