"""The bundled domains by name, and the environment for a conversation built from its `meta`.

Left out: loading user-defined domains from files (users construct a `Domain` in Python and pass it to
`Environment`).
"""

from __future__ import annotations

from typing import Any

from thinkact.envs.base import Environment
from thinkact.envs.domains import banking, calendar, contacts, shopping, travel, units, weather
from thinkact.envs.execute import DEFAULT_MAX_RESULT_CHARS, DEFAULT_TIME_LIMIT_S, Isolation
from thinkact.envs.tools import Domain
from thinkact.errors import UserError

_DOMAINS: dict[str, Domain] = {
    domain.name: domain
    for domain in (
        weather.DOMAIN,
        calendar.DOMAIN,
        banking.DOMAIN,
        shopping.DOMAIN,
        travel.DOMAIN,
        units.DOMAIN,
        contacts.DOMAIN,
    )
}
DOMAINS: tuple[str, ...] = tuple(_DOMAINS)


def get_domain(name: str) -> Domain:
    """The bundled domain called `name`; a `UserError` listing the domains otherwise."""
    domain = _DOMAINS.get(name)
    if domain is None:
        raise UserError(f"meta.domain: {name!r} is not a bundled domain; use one of {', '.join(DOMAINS)}")
    return domain


def tool_specs(domain: str) -> list[dict[str, Any]]:
    """The JSON-Schema tool specs of a bundled domain, as rendered in its system prompt."""
    return get_domain(domain).specs()


def make_environment(
    meta: dict[str, Any],
    *,
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    isolation: Isolation = "thread",
) -> Environment:
    """The environment of a conversation: its `meta["domain"]`, reset to `meta["initial_state"]` when given.

    `time_limit_s` bounds each call (None: no limit and no worker thread, for trusted calls only);
    `isolation="process"` runs each call in a child process killed at that limit.

    >>> env = make_environment({"domain": "weather"})
    >>> sorted(env.snapshot()["cities"])
    ['Lima', 'Oslo', 'Paris']
    """
    if "domain" not in meta:
        raise UserError('meta.domain: missing; an episode needs the name of its domain, e.g. "weather"')
    return Environment(
        get_domain(meta["domain"]),
        meta.get("initial_state"),
        time_limit_s=time_limit_s,
        max_result_chars=max_result_chars,
        isolation=isolation,
    )
