"""Config objects: dataclass trees loaded from YAML, overridden from the command line, checked on load.

`load_config(Cls, path, overrides)` builds `Cls` from a YAML file (optional) and `key.sub=value` overrides (values
parsed as YAML, so `rewards.weights.format=0.2` and `lora.enabled=true` work). An unknown key, or a value of the
wrong type, a number that is not finite (`.nan`, `.inf`), YAML that cannot be read (deep nesting, an integer
past Python's digit limit, bytes that are not UTF-8) stops with a `UserError` that names the file and the dotted
field and lists the valid fields.

A renamed field stays readable under its old name for one release: the class declares
`RENAMED: ClassVar[dict[str, str]] = {"old_name": "new.name"}` (the new name may point into a nested config), and
`build` moves the old key to the new one with a message on stderr naming the new spelling; giving both is an error.
`save_config` writes the resolved config into a run directory. Left out: config inheritance and interpolation.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from thinkact.errors import UserError
from thinkact.jsonsafe import read_utf8

T = TypeVar("T")


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """A `cls` instance from the YAML file at `path` (if any), then the `key=value` overrides."""
    raw: dict[str, Any] = {}
    source = "command line"
    if path is not None:
        source = str(path)
        file = Path(path)
        if not file.is_file():
            raise UserError(f"{path}: no such config file; the shipped ones are in configs/")
        loaded = _read_yaml(read_utf8(file), str(path))
        if loaded is not None and not isinstance(loaded, dict):
            raise UserError(f"{path}: the top level must be a mapping of config fields")
        raw = loaded or {}
    for override in overrides or []:
        key, sep, value = override.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {override!r}: write overrides as field.sub=value")
        _assign(
            raw, key.strip().split("."), _read_yaml(value, f"--set {key.strip()}") if value.strip() else ""
        )
    return build(cls, raw, source=source)


def _read_yaml(text: str, source: str) -> Any:
    """YAML text as Python values; what YAML or Python cannot read stops with a message naming `source`."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{source}: not valid YAML ({error})") from None
    except RecursionError:
        raise UserError(f"{source}: nested too deeply to read; a config is a few levels of fields") from None
    except ValueError as error:  # an integer past Python's digit limit
        raise UserError(f"{source}: a value YAML cannot read ({str(error)[:120]}); shorten it") from None


def build(cls: type[T], raw: dict[str, Any], *, source: str = "config", prefix: str = "") -> T:
    """Construct the dataclass `cls` from a mapping, checking every key and type."""
    if not isinstance(raw, dict):
        raise UserError(f"{source}: {prefix.rstrip('.') or 'config'}: expected a mapping")
    raw = rename_fields(cls, raw, source=source, prefix=prefix)
    fields = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise UserError(
            f"{source}: unknown field {prefix}{unknown[0]}; valid fields of {prefix.rstrip('.') or 'the config'}: "
            f"{', '.join(sorted(fields))}"
        )
    values = {
        name: _convert(
            hints[name],
            _over_default(fields[name], value, source, f"{prefix}{name}."),
            source,
            f"{prefix}{name}",
        )
        for name, value in raw.items()
    }
    try:
        return cls(**values)
    except TypeError as error:
        raise UserError(f"{source}: {prefix.rstrip('.') or 'config'}: {error}") from None


def renamed_fields(cls: type[Any]) -> Mapping[str, str]:
    """The old names `cls` still reads, each with the (dotted) name that replaced it: its `RENAMED` mapping."""
    renamed: Mapping[str, str] = getattr(cls, "RENAMED", {})
    return renamed


def rename_fields(
    cls: type[Any], raw: dict[str, Any], *, source: str = "config", prefix: str = ""
) -> dict[str, Any]:
    """`raw` with each old field name of `cls` moved to its new name, saying so on stderr; a `UserError` when a
    mapping gives both. The mappings it changes are copied, so `raw` is left as it was.

    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class Inner:
    ...     steps: int = 1
    >>> @dataclass
    ... class Outer:
    ...     RENAMED: typing.ClassVar[dict[str, str]] = {"inner_steps": "inner.steps"}
    ...     inner: Inner = field(default_factory=Inner)
    >>> rename_fields(Outer, {"inner_steps": 3}, source="demo.yaml")  # says on stderr: inner_steps is renamed
    {'inner': {'steps': 3}}
    """
    renamed = renamed_fields(cls)
    old_names = [name for name in raw if name in renamed]
    if not old_names:
        return raw
    raw = dict(raw)
    for old in old_names:
        new = renamed[old]
        *groups, last = new.split(".")
        node = raw
        for group in groups:
            child = node.get(group, {})
            if not isinstance(child, dict):
                raise UserError(f"{source}: {prefix}{group}: expected a mapping, got {reprlib.repr(child)}")
            child = dict(child)  # a copy: the caller's mapping stays as it was
            node[group] = child
            node = child
        if last in node:
            raise UserError(
                f"{source}: both {prefix}{old} and {prefix}{new} are given; {prefix}{old} is the old name of "
                f"{prefix}{new}: keep {prefix}{new} alone"
            )
        node[last] = raw.pop(old)
        print(
            f"{source}: {prefix}{old} is renamed {prefix}{new}; write {prefix}{new} (the old name is read for one "
            "more release)",
            file=sys.stderr,
        )
    return raw


def _over_default(field: dataclasses.Field[Any], value: Any, source: str, prefix: str) -> Any:
    """A partial mapping for a nested config, laid over that field's own default (not the class defaults).

    A parent may default a nested config to non-default values (the demo's GRPO settings); overriding one of them
    must keep the others. Mappings inside (such as reward weights) are replaced, not merged.
    """
    if not isinstance(value, dict) or field.default_factory is dataclasses.MISSING:
        return value
    return _lay_over(field.default_factory(), value, source, prefix)


def _lay_over(default: Any, value: Any, source: str, prefix: str) -> Any:
    if not (dataclasses.is_dataclass(default) and not isinstance(default, type) and isinstance(value, dict)):
        return value
    value = rename_fields(
        type(default), value, source=source, prefix=prefix
    )  # old names, before the defaults
    merged = {}
    for item in dataclasses.fields(default):
        current = getattr(default, item.name)
        if item.name in value:
            merged[item.name] = _lay_over(current, value[item.name], source, f"{prefix}{item.name}.")
        elif dataclasses.is_dataclass(current) and not isinstance(current, type):
            merged[item.name] = dataclasses.asdict(current)
        else:
            merged[item.name] = current
    merged.update(
        {key: item for key, item in value.items() if key not in merged}
    )  # unknown keys: build refuses
    return merged


def _convert(hint: Any, value: Any, source: str, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, source, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return build(hint, value, source=source, prefix=f"{where}.")
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{source}: {where}: expected a mapping, got {reprlib.repr(value)}")
        value_type = typing.get_args(hint)[1]
        return {key: _convert(value_type, item, source, f"{where}.{key}") for key, item in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise UserError(f"{source}: {where}: expected a list, got {reprlib.repr(value)}")
        item_type = typing.get_args(hint)[0]
        return [_convert(item_type, item, source, f"{where}[{i}]") for i, item in enumerate(value)]
    return _convert_scalar(hint, value, source, where)


def _convert_scalar(hint: Any, value: Any, source: str, where: str) -> Any:
    if hint is float:
        number: Any = value
        if isinstance(value, str):  # YAML 1.1 reads 3e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                return _refuse(source, where, "a number", value)
        if not isinstance(number, int | float) or isinstance(number, bool):
            return _refuse(source, where, "a number", value)
        try:
            number = float(number)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):  # a NaN weight or rate would turn every reward or step into NaN
            return _refuse(source, where, "a finite number", value)
        return number
    if hint in (int, str, bool) and not (
        isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
    ):
        return _refuse(source, where, hint.__name__, value)
    return value


def _refuse(source: str, where: str, expected: str, value: Any) -> Any:
    raise UserError(f"{source}: {where}: expected {expected}, got {reprlib.repr(value)}")


def _assign(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        node = tree.setdefault(key, {})
        if not isinstance(node, dict):
            raise UserError(f"--set: {'.'.join(keys)}: {key} is not a group of fields")
        tree = node
    tree[keys[-1]] = value


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML (a run directory's `config.yaml`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
