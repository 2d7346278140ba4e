"""Streamed responses: the growing completion text split into `reasoning_content` and `content` deltas.

`DeltaSplitter` is fed the decoded completion so far and returns what may be sent: thinking while inside the
leading `<think>` block, answer text after it, nothing once a `<tool_call>` begins (calls are sent whole, parsed,
at the end). Text that could still turn into a tag, and trailing whitespace (the parser strips it), is held back
until it is decided. `finish` compares what was sent with `message_from_text` on the whole completion and returns
the rest, so a stream adds up to the non-streamed message whenever the completion follows the action format;
when it does not, what remains arrives as content.
"""

from __future__ import annotations

from typing import Any

from thinkact.parse import CALL_OPEN, THINK_CLOSE, THINK_OPEN
from thinkact.serve.protocol import message_from_text, strip_end


class DeltaSplitter:
    def __init__(self) -> None:
        self.state = "start"
        self.position = 0
        """How far into the text the current state has consumed."""
        self.sent = {"reasoning_content": "", "content": ""}

    def feed(self, text: str) -> list[tuple[str, str]]:
        """(field, delta) pairs that are safe to send for the completion text so far."""
        text = strip_end(text) if text.rstrip().endswith(("<|im_end|>", "<|endoftext|>")) else text
        deltas: list[tuple[str, str]] = []
        if self.state == "start":
            head = text.lstrip()
            if THINK_OPEN.startswith(head):
                return deltas  # too short to tell whether the completion thinks
            if head.startswith(THINK_OPEN):
                self.state, self.position = "think", text.index(THINK_OPEN) + len(THINK_OPEN)
            else:
                self.state = "content"
        if self.state == "think":
            end = text.find(THINK_CLOSE, self.position)
            body = text[self.position :] if end < 0 else text[self.position : end]
            deltas += self._send("reasoning_content", body, final=end >= 0, tag=THINK_CLOSE)
            if end < 0:
                return deltas
            self.state, self.position = "content", end + len(THINK_CLOSE)
        if self.state == "content":
            start = text.find(CALL_OPEN, self.position)
            body = text[self.position :] if start < 0 else text[self.position : start]
            deltas += self._send("content", body, final=False, tag=CALL_OPEN)
            if start >= 0:
                self.state = "calls"
        return deltas

    def _send(self, name: str, body: str, *, final: bool, tag: str) -> list[tuple[str, str]]:
        """The part of `body` (the field's whole text so far) not yet sent and no longer in doubt."""
        ready = body.lstrip()
        # An incomplete UTF-8 sequence decodes to U+FFFD until its last byte arrives; wait for it.
        ready = ready.rstrip() if final else _undecided_cut(ready.rstrip("\ufffd"), tag)
        already = self.sent[name]
        if len(ready) <= len(already) or not ready.startswith(already):
            return []
        self.sent[name] = ready
        return [(name, ready[len(already) :])]

    def finish(self, text: str, tool_choice: str) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        """The whole message, and the deltas (fields and tool calls) that complete what was sent."""
        message = message_from_text(text, tool_choice)
        deltas: list[tuple[str, Any]] = []
        for name in ("reasoning_content", "content"):
            full, sent = message.get(name) or "", self.sent[name]
            if full.startswith(sent) and len(full) > len(sent):
                deltas.append((name, full[len(sent) :]))
            elif not full.startswith(sent) and name == "content":
                deltas.append((name, _unsent(strip_end(text), self.sent)))
        if message.get("tool_calls"):
            deltas.append(("tool_calls", message["tool_calls"]))
        return message, deltas


def _undecided_cut(text: str, tag: str) -> str:
    """`text` less trailing whitespace and any end that could be the start of `tag`.

    >>> _undecided_cut("It is sunny <tool_", "<tool_call>")
    'It is sunny'
    """
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            text = text[:-size]
            break
    return text.rstrip()


def _unsent(text: str, sent: dict[str, str]) -> str:
    """What of the raw completion the stream has not shown (it showed the parts it took for thinking)."""
    shown = sent["content"] or sent["reasoning_content"]
    at = text.rfind(shown) if shown else -1
    return text[at + len(shown) :] if at >= 0 else text
