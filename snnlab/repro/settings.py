"""Settings as they are saved: JSON's view of a preset, how a saved setting differs from the current one, and the
changes a run makes to a preset (``--set key=value`` overrides, and the device and AMP every training run uses)."""
from __future__ import annotations

import copy
import json
import types
import typing

from ..names import did_you_mean
from ..train import TrainConfig

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


TRAIN_GROUP = "train"
"""The name of a setting's training group (at any depth: a teacher's too), whose keys are
:class:`~snnlab.train.TrainConfig` fields."""

_PER_SEED_FIELDS = ("seed", "progress", "checkpoint_dir", "resume")
"""TrainConfig fields a reproduction sets for every seed itself: not settable by ``--set``."""


def _train_fields() -> dict[str, object]:
    """The TrainConfig fields a setting's ``train`` group may hold, with their type hints."""
    hints = typing.get_type_hints(TrainConfig)
    return {name: hints[name] for name in hints if name not in _PER_SEED_FIELDS}


def _matches(value, hint) -> bool:
    """Whether ``value`` is of the type ``hint`` (an int is a float; a bool is neither)."""
    if isinstance(hint, types.UnionType):
        return any(_matches(value, arg) for arg in hint.__args__)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
               type(None): "null"}


def _type_name(hint) -> str:
    """``hint`` in words: ``"an integer"``, ``"a number or null"``, ..."""
    if isinstance(hint, types.UnionType):
        return " or ".join(_type_name(arg) for arg in hint.__args__)
    return _TYPE_NAMES.get(hint, f"a {hint.__name__}")


def _dotted_keys(node: dict, prefix: str = "") -> list[str]:
    """Every key a ``--set`` may name in ``node``: its groups and values, dotted, and every TrainConfig field of each
    ``train`` group."""
    keys = []
    for key, value in node.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys += _dotted_keys(value, f"{prefix}{key}.")
            if key == TRAIN_GROUP:
                keys += [f"{prefix}{key}.{field}" for field in _train_fields() if field not in value]
    return keys


def _expected_type(node: dict, leaf: str, in_train: bool):
    """The type a value set at ``node[leaf]`` must have: the TrainConfig field's in a ``train`` group, else the
    present value's; ``KeyError`` for a key that names nothing in the setting."""
    if in_train:
        fields = _train_fields()
        if leaf not in fields:
            raise KeyError(leaf)
        return fields[leaf]
    if leaf not in node:
        raise KeyError(leaf)
    present = node[leaf]
    return type(present) if present is not None else object


def _set_one(result: dict, key: str, value) -> dict | None:
    """Set ``key`` (dotted) to ``value`` in ``result``; the ``train`` group it lies in, or ``None``. ``ValueError``
    (with the closest keys) for a key the setting does not have, a value of the wrong type, or a group replaced by a
    value."""
    *parents, leaf = key.split(".")
    node = result
    for depth, part in enumerate(parents):
        child = node.get(part)
        if not isinstance(child, dict):
            where = ".".join(parents[:depth]) or "the setting"
            groups = sorted(k for k, v in node.items() if isinstance(v, dict))
            raise ValueError(f"cannot set {key!r}: {where} has no group {part!r}"
                             + (f" (groups there: {', '.join(groups)})" if groups else "")
                             + did_you_mean(key, _dotted_keys(result)))
        node = child
    in_train = bool(parents) and parents[-1] == TRAIN_GROUP
    if in_train and leaf in _PER_SEED_FIELDS:
        raise ValueError(f"cannot set {key!r}: a reproduction sets {leaf} itself for every seed (choose the seeds "
                         "with --seeds, the output with --out, resuming with --resume)")
    try:
        expected = _expected_type(node, leaf, in_train)
    except KeyError:
        raise ValueError(f"cannot set {key!r}: the setting has no such key{did_you_mean(key, _dotted_keys(result))} "
                         "(`snnlab reproduce NAME --set` changes keys the preset has; see its setting in the "
                         "record)") from None
    if expected is dict:
        raise ValueError(f"cannot set {key!r} to {value!r}: {key} is a group of settings; set one of its keys, e.g. "
                         f"--set {key}.{next(iter(node[leaf]), 'KEY')}=VALUE")
    if not _matches(value, expected):
        raise ValueError(f"cannot set {key!r} to {value!r} ({type(value).__name__}): it takes "
                         f"{_type_name(expected)}, e.g. --set {key}={json.dumps(node.get(leaf, 1))}")
    node[leaf] = value
    return node if in_train else None


def apply_overrides(settings: dict, overrides: dict[str, object]) -> dict:
    """A copy of ``settings`` with each dotted key of ``overrides`` set (``{"train.epochs": 2}`` sets
    ``settings["train"]["epochs"]``).

    Every key must name one the setting has — any TrainConfig field in a ``train`` group (e.g. ``train.grad_clip``)
    but those a reproduction sets per seed — and every value must have its type; each changed ``train`` group must
    still make a valid :class:`~snnlab.train.TrainConfig` (``epochs`` >= 1, ``grad_clip`` > 0 or null, an existing
    device, ...). Anything else is a one-line ``ValueError`` naming the key, with the closest valid keys."""
    result = copy.deepcopy(settings)
    for key, value in overrides.items():
        group = _set_one(result, key, value)
        if group is not None:
            try:
                TrainConfig(**group)
            except (ValueError, TypeError) as err:
                raise ValueError(f"cannot set {key!r} to {value!r}: {err}") from None
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
