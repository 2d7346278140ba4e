"""Simulated users: who speaks when the policy's turn is over, so whole conversations play as episodes.

When a user turn ends (the policy answered, or used its steps), the episode loop asks the episode's user for the
next user message; `None` ends the episode. Three kinds (`UserConfig.kind`), all reading the episode prompt's
reference conversation (`Prompt.feeds`, the later user messages; `Prompt.asked`, which of them answer a question):

- `scripted`: the reference's next user message, whatever the policy said (the policy is assumed to stay on the
  reference's path; the episode view of `eval` has always played conversations this way);
- `rule`: a rule-based user for the bundled benchmark, where "missing information" scenarios withhold a detail
  until the assistant asks for it. A reply that answers a question is given only when the policy's last step
  asked one (its answer contains "?"); a policy that guessed instead never hears the withheld detail, so the
  calls that need it go wrong and the episode fails, as it should. A question the reference did not ask is
  answered with `NOTHING_TO_ADD`, and the user's requests then go on;
- `model`: a user played by any model behind an OpenAI-compatible chat-completions endpoint (`url`, `model`),
  given the reference user's messages as its goal and the conversation so far with the roles swapped (it sees
  what the assistant said, not the tool calls); it ends the conversation by replying `STOP`.

`none` (no user) ends the episode with the user turn: GRPO's episode mode trains one segment per user message.
Every kind is capped at `max_turns` user turns. Left out: users that see tool results, and user state beyond the
conversation (tau-bench's user simulators also keep only the conversation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thinkact.data.prompts import Prompt
from thinkact.errors import UserError, check_choice

USER_KINDS = ("none", "scripted", "rule", "model")
NOTHING_TO_ADD = "I have nothing to add; please go ahead with what I asked."
STOP = "###STOP###"
USER_SYSTEM_PROMPT = (
    "You are role-playing a user talking to an assistant. Your goal, in the order you would say it:\n{goal}\n"
    "Write only your next message to the assistant, in one or two sentences, revealing a detail only when the "
    f"assistant asks for it. When everything you wanted is done, reply exactly {STOP}."
)


@dataclass
class UserConfig:
    kind: str = "none"
    """none (the episode ends with the user turn), scripted, rule or model (see docs/episodes.md)."""
    url: str = ""
    """kind=model: base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1."""
    model: str = ""
    """kind=model: the served model's name."""
    api_key_env: str = "OPENAI_API_KEY"
    """kind=model: environment variable holding the API key (local servers usually need none)."""
    timeout: float = 60.0
    """kind=model: seconds one request may take."""
    max_tokens: int = 128
    """kind=model: tokens per user message."""
    max_turns: int = 8
    """User messages per episode at most, after the first."""

    def __post_init__(self) -> None:
        check_choice("user.kind", self.kind, USER_KINDS)
        if self.kind == "model" and not (self.url and self.model):
            raise UserError("user.kind=model: set user.url (an OpenAI-compatible /v1 URL) and user.model")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise UserError(f"user.url: {self.url!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1")
        if self.max_turns < 0 or self.timeout <= 0 or self.max_tokens < 1:
            raise UserError("user: max_turns must be >= 0, timeout > 0 and max_tokens >= 1")

    @property
    def whole(self) -> bool:
        """Whether episodes are whole conversations (any user but none)."""
        return self.kind != "none"


class ScriptedUser:
    """The reference's later user messages, one block per turn, in order."""

    def __init__(self, prompt: Prompt, max_turns: int) -> None:
        self.feeds = [list(block) for block in prompt.feeds]
        self.asked = list(prompt.asked)
        self.turns_left = max_turns

    def reply(self, episode: Any) -> list[dict[str, Any]] | None:
        if not self.feeds or self.turns_left <= 0:
            return None
        self.turns_left -= 1
        self.asked.pop(0)
        return [dict(message) for message in self.feeds.pop(0)]


class RuleUser(ScriptedUser):
    """Gives withheld details only when asked (the bundled benchmark's "missing information" scenarios)."""

    def reply(self, episode: Any) -> list[dict[str, Any]] | None:
        last = episode.last_action
        asked = last is not None and not last.tool_calls and "?" in last.content
        while self.feeds and self.asked[0] and not asked:
            self.feeds.pop(0)  # the detail is withheld: the policy did not ask for it
            self.asked.pop(0)
        if asked and self.feeds and not self.asked[0] and self.turns_left > 0:
            self.turns_left -= 1
            return [{"role": "user", "content": NOTHING_TO_ADD}]
        return super().reply(episode)


class ModelUser:
    """A user played by a model behind an OpenAI-compatible endpoint."""

    def __init__(self, prompt: Prompt, config: UserConfig, client: Any) -> None:
        goal = [m["content"] for m in prompt.messages if m["role"] == "user"]
        goal += [m["content"] for block in prompt.feeds for m in block]
        self.system = USER_SYSTEM_PROMPT.format(goal="\n".join(f"- {line}" for line in goal))
        self.config = config
        self.client = client
        self.turns_left = config.max_turns

    def reply(self, episode: Any) -> list[dict[str, Any]] | None:
        if self.turns_left <= 0:
            return None
        self.turns_left -= 1
        try:
            response = self.client.chat.completions.create(
                model=self.config.model,
                messages=[{"role": "system", "content": self.system}, *swap_roles(episode.messages)],
                temperature=0,
                max_tokens=self.config.max_tokens,
            )
        except Exception as error:
            raise UserError(
                f"user.url {self.config.url} (model {self.config.model!r}): the simulated user's request failed: "
                f"{type(error).__name__}: {error}"
            ) from None
        text = (response.choices[0].message.content or "").strip()
        if not text or STOP in text:
            return None
        return [{"role": "user", "content": text}]


def swap_roles(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as the simulated user sees it: its own messages as `assistant`, the assistant's answers
    as `user`; system prompts, tool calls and tool results left out.

    >>> swap_roles([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "",
    ...     "tool_calls": [{}]}, {"role": "tool", "content": "{}"}, {"role": "assistant", "content": "Hello?"}])
    [{'role': 'assistant', 'content': 'hi'}, {'role': 'user', 'content': 'Hello?'}]
    """
    swapped = []
    for message in messages:
        if message["role"] == "user":
            swapped.append({"role": "assistant", "content": message.get("content") or ""})
        elif message["role"] == "assistant" and (message.get("content") or "").strip():
            swapped.append({"role": "user", "content": message["content"]})
    return swapped


def make_user(config: UserConfig, prompt: Prompt, client: Any = None) -> Any:
    """The user of one episode (None for kind none); `client` is the OpenAI client kind=model shares."""
    if config.kind == "none":
        return None
    if config.kind == "scripted":
        return ScriptedUser(prompt, config.max_turns)
    if config.kind == "rule":
        return RuleUser(prompt, config.max_turns)
    return ModelUser(prompt, config, client)


def user_client(config: UserConfig) -> Any:
    """The OpenAI client for kind=model (None otherwise), made once per run."""
    if config.kind != "model":
        return None
    from thinkact.rollout.endpoint import EndpointConfig, make_client

    endpoint = EndpointConfig(url=config.url, model=config.model, api_key_env=config.api_key_env)
    endpoint.timeout = config.timeout
    return make_client(endpoint)
