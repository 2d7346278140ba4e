"""Tool schemas in the chat format's JSON Schema, from the Python-style spellings many datasets use instead.

Datasets built from xLAM, BFCL or ToolACE write tool parameters in Python terms: `"type": "dict"` for an object,
`"str"`, `"int"`, `"float"`, `"list"`, `"List[int]"` for the rest, or xLAM's bare layout
`{NAME: {"type": "int, optional", "description": ...}}` with no `properties` at all. `tool_schema` wraps a tool as
the chat format wants it and rewrites those spellings into JSON Schema (`python_type_schema`, as `--from xlam`
reads them). A type name JSON Schema already knows is left as it is, so a tool that is JSON Schema already comes
out unchanged. Left out: type names that are no Python type expression (`"text"`, `"enum"`): they stay, and the
validator's meta-schema check names them.
"""

from __future__ import annotations

from typing import Any

from thinkact.data.readers.records import wrap_tool
from thinkact.data.readers.xlam import parameter_schema, python_type_schema

JSON_SCHEMA_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
_SUBSCHEMA_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")


def tool_schema(tool: Any, where: str) -> dict[str, Any]:
    """A tool as `{"type": "function", "function": {...}}` with its parameters in JSON Schema.

    >>> tool = tool_schema({"name": "f", "parameters": {"type": "dict", "properties": {"n": {"type": "int"}}}}, "t")
    >>> tool["type"], tool["function"]["parameters"]
    ('function', {'type': 'object', 'properties': {'n': {'type': 'integer'}}})
    >>> tool_schema({"name": "f", "parameters": {"q": {"type": "str"}, "k": {"type": "int, optional"}}}, "t")[
    ...     "function"]["parameters"]
    {'type': 'object', 'properties': {'q': {'type': 'string'}, 'k': {'type': 'integer'}}, 'required': ['q']}
    """
    wrapped = wrap_tool(tool, where)
    function = wrapped["function"]
    parameters = function.get("parameters")
    if not isinstance(parameters, dict):
        return wrapped  # the validator names what is wrong with it
    return {"type": "function", "function": {**function, "parameters": json_schema(parameters)}}


def json_schema(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters in JSON Schema: xLAM's bare layout built into an object schema, Python type names renamed."""
    if not _is_bare_layout(parameters):
        return _renamed(parameters)
    properties, required = {}, []
    for name, spec in parameters.items():
        properties[name], optional = parameter_schema(spec)
        if not optional:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def _is_bare_layout(parameters: dict[str, Any]) -> bool:
    """xLAM's `{NAME: {"type": ..., "description": ...}}`: no schema keyword at the top, every value a spec."""
    return (
        bool(parameters)
        and not {"type", "properties", "$schema", "$ref", "anyOf", "oneOf", "allOf"} & parameters.keys()
        and all(isinstance(spec, dict) for spec in parameters.values())
    )


def _renamed(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with Python type names as JSON Schema, in every nested schema; key order kept."""
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str) and value not in JSON_SCHEMA_TYPES:
            typed = python_type_schema(value)
            converted.update({"type": value} if typed is None else typed)
        elif key == "properties" and isinstance(value, dict):
            converted[key] = {
                name: _renamed(spec) if isinstance(spec, dict) else spec for name, spec in value.items()
            }
        elif key in _SUBSCHEMA_KEYS and isinstance(value, dict):
            converted[key] = _renamed(value)
        elif key in _SUBSCHEMA_LIST_KEYS and isinstance(value, list):
            converted[key] = [_renamed(item) if isinstance(item, dict) else item for item in value]
        else:
            converted[key] = value
    return converted
