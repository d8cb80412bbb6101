"""Reading `policy.settings` (a JSON object) with errors that name the
setting, and durations such as `90s`, `10m`, `1h30m`.

Error texts are the Rust SDK's, word for word, so a scenario expecting an
error passes whatever language the policy is written in.
"""

import json
import re
from typing import Any, Dict, List, Optional, Sequence

from .errors import InvalidSettings, PolicyError

_U64_MAX = 2**64 - 1
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_UNSIGNED = re.compile(r"\+?[0-9]+")


def to_json(value: Any) -> str:
    """Compact JSON, as serde_json prints a value."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _invalid(key: str, value: str, expected: str) -> InvalidSettings:
    return InvalidSettings(f"settings.{key}: {value} is not {expected}")


def _parse_u64(text: str) -> Optional[int]:
    if not _UNSIGNED.fullmatch(text):
        return None
    n = int(text)
    return n if n <= _U64_MAX else None


def parse_duration_ms(text: str) -> Optional[int]:
    """Parses `500ms`, `90s`, `10m`, `1h30m`, `2d`; a bare number is seconds.
    `None` when `text` is not a duration."""
    text = text.strip()
    if not text:
        return None
    secs = _parse_u64(text)
    if secs is not None:
        ms = secs * 1000
        return ms if ms <= _U64_MAX else None
    total, rest = 0, text
    while rest:
        digits = 0
        while digits < len(rest) and "0" <= rest[digits] <= "9":
            digits += 1
        if digits == 0:
            return None
        n = _parse_u64(rest[:digits])
        if n is None:
            return None
        rest = rest[digits:]
        unit_len = 0
        while unit_len < len(rest) and not ("0" <= rest[unit_len] <= "9"):
            unit_len += 1
        factor = _UNITS.get(rest[:unit_len])
        if factor is None:
            return None
        total += n * factor
        if n * factor > _U64_MAX or total > _U64_MAX:
            return None
        rest = rest[unit_len:]
    return total


def format_duration_ms(ms: int) -> str:
    """`1h30m`, `45s`, `2d3h`, `500ms` below one second; rounds up to whole
    seconds so a remaining time is never understated."""
    if ms < 1000:
        return f"{ms}ms"
    secs = -(-ms // 1000)
    text = ""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if secs >= size:
            text += f"{secs // size}{unit}"
            secs %= size
    return text


def nest_error(err: PolicyError, section: str) -> PolicyError:
    """Rewrites an error about `settings.<key>` of a nested section into one
    about `settings.<section>.<key>`."""
    if isinstance(err, InvalidSettings):
        return InvalidSettings(err.message.replace("settings.", f"settings.{section}.", 1))
    return err


class Settings:
    """Parsed policy settings. Keys are visited in sorted order, as the Rust
    SDK does, so the first error reported is the same."""

    def __init__(self, values: Dict[str, Any]):
        self._values = values

    @classmethod
    def parse(cls, text: str) -> "Settings":
        """Parses the context's settings string."""
        if not text.strip():
            return cls({})
        try:
            value = json.loads(text)
        except ValueError as e:
            raise InvalidSettings(f"settings are not JSON: {e}") from None
        if value is None:
            return cls({})
        if not isinstance(value, dict):
            raise InvalidSettings(f"settings must be a mapping, got {to_json(value)}")
        return cls(value)

    def keys(self) -> List[str]:
        """Keys present, sorted."""
        return sorted(self._values)

    def get(self, key: str) -> Any:
        """A raw value by key."""
        return self._values.get(key)

    def duration_ms(self, key: str) -> Optional[int]:
        """A duration in milliseconds: whole seconds as a number, or text
        such as `90s`, `10m`, `1h30m`, `500ms`."""
        value = self._values.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            raise _invalid(key, to_json(value), "a duration")
        if isinstance(value, int):
            if 0 <= value <= _U64_MAX:
                return min(value * 1000, _U64_MAX)
            raise _invalid(key, to_json(value), "a whole number of seconds")
        if isinstance(value, float):
            raise _invalid(key, to_json(value), "a whole number of seconds")
        if isinstance(value, str):
            ms = parse_duration_ms(value)
            if ms is None:
                raise _invalid(key, value, "a duration like 90s, 10m or 1h30m")
            return ms
        raise _invalid(key, to_json(value), "a duration")

    def bool(self, key: str) -> Optional[bool]:
        """A boolean."""
        value = self._values.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise _invalid(key, to_json(value), "true or false")

    def string(self, key: str) -> Optional[str]:
        """A string."""
        value = self._values.get(key)
        if value is None or isinstance(value, str):
            return value
        raise _invalid(key, to_json(value), "a string")

    def strings(self, key: str) -> Optional[List[str]]:
        """A list of strings."""
        value = self._values.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise _invalid(key, to_json(value), "a list of strings")
        for item in value:
            if not isinstance(item, str):
                raise _invalid(key, to_json(item), "a list of strings")
        return list(value)

    def section(self, key: str) -> Optional["Settings"]:
        """A nested mapping (e.g. per-stage overrides), as settings."""
        value = self._values.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _invalid(key, to_json(value), "a mapping")
        return Settings(value)

    def reject_unknown(self, known: Sequence[str]) -> None:
        """Refuses keys outside `known`, so a misspelt setting is an error."""
        for key in self.keys():
            if key not in known:
                raise InvalidSettings(
                    f"settings.{key}: not a setting of this policy (known: {', '.join(known)})"
                )
