"""Settings as they are saved: JSON's view of a preset, and how a saved setting differs from the current one."""
from __future__ import annotations

import json

__all__ = ["json_roundtrip", "stale_differences"]


def json_roundtrip(value):
    """``value`` as JSON gives it back (tuples become lists), so a saved setting compares equal to a preset."""
    return json.loads(json.dumps(value))


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}{key}.").items()}
    return {prefix[:-1]: value}


def stale_differences(saved_setting: dict, current_setting: dict) -> list[str]:
    """Each setting entry that differs between a saved record and the current preset, as
    ``"key: <saved> in the record, <current> in the preset"`` (empty when the record is current)."""
    saved, current = _flatten(json_roundtrip(saved_setting)), _flatten(json_roundtrip(current_setting))
    missing = "(absent)"
    return [f"{key}: {saved.get(key, missing)} in the record, {current.get(key, missing)} in the preset"
            for key in sorted(saved.keys() | current.keys()) if saved.get(key, missing) != current.get(key, missing)]
