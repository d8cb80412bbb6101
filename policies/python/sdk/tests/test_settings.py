"""Settings and durations: the Rust SDK's rules and error texts."""

import pytest

from baton_policy import FlowSettings, InvalidSettings
from baton_policy.settings import Settings, format_duration_ms, nest_error, parse_duration_ms


def test_durations():
    assert parse_duration_ms("10m") == 600_000
    assert parse_duration_ms("1h30m") == 5_400_000
    assert parse_duration_ms("500ms") == 500
    assert parse_duration_ms("45") == 45_000
    assert parse_duration_ms("10 minutes") is None
    assert parse_duration_ms("m") is None
    assert parse_duration_ms("1_000") is None
    assert parse_duration_ms("") is None


def test_formatted_durations_parse_back():
    assert format_duration_ms(0) == "0ms"
    assert format_duration_ms(5_400_000) == "1h30m"
    assert format_duration_ms(93_784_000) == "1d2h3m4s"
    assert format_duration_ms(1_200) == "2s"
    for ms in (1_000, 61_000, 5_400_000, 93_784_000):
        assert parse_duration_ms(format_duration_ms(ms)) == ms


def test_errors_name_the_setting():
    s = Settings.parse('{"health_timeout": "soon", "n": 1.5, "flag": 1, "labels": ["a", 2]}')
    with pytest.raises(InvalidSettings) as e:
        s.duration_ms("health_timeout")
    assert e.value.message == "settings.health_timeout: soon is not a duration like 90s, 10m or 1h30m"
    with pytest.raises(InvalidSettings, match=r"^settings.n: 1.5 is not a whole number of seconds$"):
        s.duration_ms("n")
    with pytest.raises(InvalidSettings, match=r"^settings.flag: 1 is not true or false$"):
        s.bool("flag")
    with pytest.raises(InvalidSettings, match=r"^settings.labels: 2 is not a list of strings$"):
        s.strings("labels")


def test_settings_must_be_a_mapping():
    assert Settings.parse("").keys() == []
    assert Settings.parse("null").keys() == []
    with pytest.raises(InvalidSettings, match=r"^settings must be a mapping, got \[1,2\]$"):
        Settings.parse("[1, 2]")


def test_unknown_keys_are_refused_in_sorted_order():
    s = Settings.parse('{"zeta": 1, "health_timeout": "5m", "helth_timeout": "9m"}')
    with pytest.raises(InvalidSettings) as e:
        s.reject_unknown(["health_timeout", "mr_labels"])
    assert e.value.message == (
        "settings.helth_timeout: not a setting of this policy (known: health_timeout, mr_labels)"
    )


def test_nested_errors_name_the_whole_path():
    window = Settings.parse('{"window": {"start": 9}}').section("window")
    with pytest.raises(InvalidSettings) as e:
        window.string("start")
    assert nest_error(e.value, "window").message == "settings.window.start: 9 is not a string"


def test_flow_settings_defaults_and_stage_overrides():
    s = FlowSettings.parse('{"health_timeout":"5m","stages":{"prod":{"health_timeout":"30m"}},"mr_labels":["promo"]}')
    assert s.health_timeout_ms("dev") == 300_000
    assert s.health_timeout_ms("prod") == 1_800_000
    assert s.mr_labels == ["promo"]
    assert s.rollback_labels == ["baton", "rollback"]
    assert s.progressing_is_waiting is True
    assert FlowSettings.parse("{}").health_timeout_ms("x") == 600_000
    assert s.health_timeouts() == [("health_timeout", 300_000), ("stages.prod.health_timeout", 1_800_000)]


def test_stage_errors_name_the_path():
    with pytest.raises(InvalidSettings) as e:
        FlowSettings.parse('{"stages":{"prod":{"health_timeout":"later"}}}')
    assert e.value.message == (
        "settings.stages.prod.health_timeout: later is not a duration like 90s, 10m or 1h30m"
    )
