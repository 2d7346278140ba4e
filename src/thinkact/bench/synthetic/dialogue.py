"""Write one reference conversation turn by turn, executing every reference call in the real environment.

A `Dialogue` starts from an initial state, appends user messages, reference calls (run through
`Environment.execute`, so each tool message holds exactly what the environment returned) and reference
answers, and infers the structural phenomena as it goes. A reference call that fails is a bug in a scenario
and raises. Left out: choosing what to say (the scenario modules do that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.phrasing import system_prompt
from thinkact.data.conversations import Conversation
from thinkact.envs.registry import get_domain, make_environment
from thinkact.parse import ToolCall

PHENOMENA = (
    "single_call",
    "parallel_calls",
    "chained_calls",
    "missing_info",
    "no_tool",
    "reasoning_args",
    "multi_user_turn",
)


@dataclass
class _Request:
    """One thing the user asked for: the number of calls in each call turn, and whether we asked back first."""

    call_turns: list[int] = field(default_factory=list)
    asked: bool = False


class Dialogue:
    """A conversation being written: messages so far, the live environment, and the phenomena seen."""

    def __init__(self, ctx: Context, domain: str, state: dict[str, Any]) -> None:
        self.ctx = ctx
        self.domain = domain
        # Reference calls are our own trusted code: no time limit, so no worker thread per call.
        self.env = make_environment({"domain": domain, "initial_state": state}, time_limit_s=None)
        self.initial_state = self.env.snapshot()
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt(ctx.today, get_domain(domain).role)}
        ]
        self._requests: list[_Request] = []
        self._awaiting_answer = False
        self._marked: set[str] = set()

    def user(self, text: str) -> None:
        """A user message: a new request, or the answer to our question when we just asked one."""
        if not self._awaiting_answer:
            self._requests.append(_Request())
        self._awaiting_answer = False
        self.messages.append({"role": "user", "content": text})

    def call(self, reasoning: str, *calls: ToolCall) -> list[dict[str, Any]]:
        """A reference call turn; executes the calls and returns their parsed results."""
        self.messages.append(
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": reasoning,
                "tool_calls": [c.to_message() for c in calls],
            }
        )
        results = []
        for call in calls:
            content = self.env.execute(call)
            self.messages.append({"role": "tool", "name": call.name, "content": content})
            result = json.loads(content)
            if "error" in result:
                raise RuntimeError(f"reference call {call} failed in {self.domain}: {result['error']}")
            results.append(result)
        self._requests[-1].call_turns.append(len(calls))
        return results

    def answer(self, reasoning: str, content: str, facts: list[str] | None = None) -> None:
        """A reference final answer; each fact must appear in it verbatim."""
        facts = list(facts or [])
        missing = [fact for fact in facts if fact not in content]
        if missing:
            raise RuntimeError(f"facts {missing} do not appear in the answer {content!r}")
        self.messages.append(
            {"role": "assistant", "content": content, "reasoning_content": reasoning, "facts": facts}
        )

    def ask(self, reasoning: str, question: str) -> None:
        """A reference question for missing information; the next user message answers it."""
        self.messages.append(
            {"role": "assistant", "content": question, "reasoning_content": reasoning, "facts": []}
        )
        self._requests[-1].asked = True
        self._awaiting_answer = True

    def mark(self, *phenomena: str) -> None:
        """Phenomena the structure cannot show, such as arguments that needed reasoning."""
        unknown = set(phenomena) - set(PHENOMENA)
        if unknown:
            raise ValueError(f"unknown phenomena {sorted(unknown)}")
        self._marked.update(phenomena)

    def phenomena(self) -> list[str]:
        """The phenomena of the conversation, in vocabulary order."""
        found = set(self._marked)
        for request in self._requests:
            found.update(_request_phenomena(request))
        if len(self._requests) >= 2:
            found.add("multi_user_turn")
        return [name for name in PHENOMENA if name in found]

    def finish(self, conversation_id: str, scenario: str) -> Conversation:
        return Conversation(
            id=conversation_id,
            messages=self.messages,
            tools=self.env.tools,
            meta={
                "domain": self.domain,
                "split": self.ctx.split,
                "scenario": scenario,
                "phenomena": self.phenomena(),
                "today": self.ctx.today.isoformat(),
                "initial_state": self.initial_state,
                "final_state": self.env.snapshot(),
            },
        )


def _request_phenomena(request: _Request) -> set[str]:
    found = set()
    if request.asked:
        found.add("missing_info")
    if not request.call_turns and not request.asked:
        found.add("no_tool")
    if request.call_turns == [1]:
        found.add("single_call")
    if any(count >= 2 for count in request.call_turns):
        found.add("parallel_calls")
    if len(request.call_turns) >= 2:
        found.add("chained_calls")
    return found
