"""Settings as they are saved: JSON's view of a preset, how a saved setting differs from the current one, and the
changes a run makes to a preset (``--set key=value`` overrides, and the device and AMP every training run uses)."""
from __future__ import annotations

import copy
import json

__all__ = ["json_roundtrip", "stale_differences", "parse_override", "apply_overrides", "with_train_options"]


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


def parse_override(text: str) -> tuple[str, object]:
    """``"train.epochs=2"`` → ``("train.epochs", 2)``: the value is read as JSON (numbers, ``true``, ``null``, lists)
    and kept as a string when it is not JSON (``optimizer=sgd``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"an override is key=value (e.g. train.epochs=2), got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def apply_overrides(settings: dict, overrides: dict[str, object]) -> dict:
    """A copy of ``settings`` with each dotted key of ``overrides`` set (``{"train.epochs": 2}`` sets
    ``settings["train"]["epochs"]``). Every level but the last must already exist and be a dict; a new last key is
    allowed (e.g. ``train.grad_clip``)."""
    result = copy.deepcopy(settings)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = result
        for depth, part in enumerate(parents):
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                where = ".".join(parents[:depth]) or "the setting"
                keys = sorted(k for k, v in node.items() if isinstance(v, dict)) if isinstance(node, dict) else []
                raise ValueError(f"cannot set {key!r}: {where} has no group {part!r}"
                                 + (f" (groups there: {', '.join(keys)})" if keys else ""))
            node = child
        node[leaf] = value
    return result


def with_train_options(settings: dict, **options) -> dict:
    """A copy of ``settings`` with ``options`` (e.g. ``device="cuda"``, ``amp=False``; ``None`` values skipped) set in
    every ``"train"`` group, at any depth (a teacher's training too): run options that change where a setting runs,
    not what it is."""
    options = {k: v for k, v in options.items() if v is not None}

    def visit(node):
        if isinstance(node, dict):
            return {k: ({**visit(v), **options} if k == "train" and isinstance(v, dict) else visit(v))
                    for k, v in node.items()}
        return node

    return visit(copy.deepcopy(settings)) if options else settings
