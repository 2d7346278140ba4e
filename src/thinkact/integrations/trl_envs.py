"""thinkact's domains as environments for TRL's tool loop (`GRPOTrainer(environment_factory={...})`).

TRL 1.16 takes per-example tool sets only through a dict of environment factories: each dataset row names its
environment in an `environment` column, TRL renders that environment's public methods as the prompt's tools
(their JSON Schemas come from each method's signature and Google-style docstring), executes the calls the policy
makes by calling the methods, and appends the results as tool messages before generating again. So each bundled
domain becomes a class whose methods are its tools: a method's signature is written from the tool's JSON Schema
(types, enums, which arguments are required) and its body runs the call through `Environment.execute`, which
validates the arguments against the real schema, so bad calls come back as error messages exactly as in thinkact.

What TRL's schema generation cannot express is left out of the prompt (not of the checks): `default`,
`minimum`/`maximum`, `additionalProperties`; arguments without a description are described by their name. The
prompt therefore shows a slightly poorer schema than thinkact's engine renders. `reset` restores the state the
conversation had before the turn (the reference calls of its history already applied, computed when the dataset
is built). Left out: rewards from the final state (TRL's `get_reward`); the adapter scores the turn's action.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, Literal

from thinkact.envs.base import Environment
from thinkact.envs.registry import get_domain
from thinkact.parse import ToolCall

_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
}


class DomainEnvironment:
    """Base of the per-domain classes: TRL exposes every public method as a tool, so helpers are private."""

    domain_name = ""

    def __init__(self) -> None:
        self._env = Environment(get_domain(self.domain_name))

    def reset(self, **row: Any) -> None:
        """Start the rollout from the row's `state` (JSON), the world as the turn's history left it."""
        self._env.reset(json.loads(row["state"]) if row.get("state") else None)

    def _run(self, name: str, arguments: dict[str, Any]) -> str:
        return self._env.execute(ToolCall(name, arguments))


def type_hint(schema: dict[str, Any]) -> Any:
    """The Python type TRL/transformers turn back into `schema` (enums become `Literal`).

    >>> type_hint({"type": "string", "enum": ["a", "b"]}) == Literal["a", "b"]
    True
    >>> type_hint({"type": "array", "items": {"type": "integer"}})
    list[int]
    """
    if "enum" in schema:
        return Literal[tuple(schema["enum"])]
    kind = schema.get("type", "string")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return list[type_hint(schema["items"])]  # type: ignore[misc]
    return _JSON_TYPES.get(kind, str)


def tool_method(spec: dict[str, Any]) -> Callable[..., str]:
    """A method that runs the tool `spec` describes, with a signature and docstring that render as its schema."""
    function = spec["function"]
    name = function["name"]
    parameters = function.get("parameters") or {}
    properties: dict[str, Any] = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])

    def call(self: DomainEnvironment, **arguments: Any) -> str:
        return self._run(name, arguments)

    receiver = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [
        inspect.Parameter(
            key,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=type_hint(schema),
            default=inspect.Parameter.empty if key in required else None,
        )
        for key, schema in properties.items()
    ]
    lines = [function.get("description") or name]
    if properties:
        lines += ["", "Args:"]
        lines += [f"    {key}: {schema.get('description') or key}" for key, schema in properties.items()]
    # TRL names a tool by `__name__` and transformers reads its schema from the signature, the annotations and the
    # docstring, so those are set to the tool's; the body takes **arguments and the executor checks them.
    call.__name__ = call.__qualname__ = name
    call.__doc__ = "\n".join(lines)
    call.__annotations__ = {param.name: param.annotation for param in params}
    call.__signature__ = inspect.Signature([receiver, *params])  # type: ignore[attr-defined]
    return call


def environment_class(domain_name: str) -> type[DomainEnvironment]:
    """A `DomainEnvironment` subclass with one method per tool of the bundled domain `domain_name`."""
    domain = get_domain(domain_name)
    methods: dict[str, Any] = {spec["function"]["name"]: tool_method(spec) for spec in domain.specs()}
    methods["domain_name"] = domain_name
    return type(f"{domain_name.title()}Environment", (DomainEnvironment,), methods)


def environment_factories(domain_names: list[str]) -> dict[str, type[DomainEnvironment]]:
    """TRL's `environment_factory` dict: one class (a zero-argument factory) per domain, by name."""
    return {name: environment_class(name) for name in sorted(set(domain_names))}
