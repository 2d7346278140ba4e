"""The rollout record: one sampled completion with everything the loss and the logs need.

Token ids of prompt and completion, the completion's loss mask (1 only on tokens the policy sampled) and SFT
mask (forced reference-prefix tokens that carry an NLL loss), the parsed action, the tool trace (episodes), and
the reward with each component by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinkact.parse import Action


@dataclass
class Rollout:
    example_id: str
    prompt_ids: list[int]
    completion_ids: list[int]
    loss_mask: list[int]
    """Same length as completion_ids: 1 where the policy sampled the token, 0 for inserted tool results."""
    text: str
    action: Action
    truncated: bool
    reward: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    tool_trace: list[dict[str, Any]] = field(default_factory=list)
    """Episodes only: each executed call and the result the policy saw."""
    prefix_tokens: int = 0
    """Prefix-guided members: how many leading completion tokens were forced from the reference (loss mask 0);
    0 for a free member."""
    sft_mask: list[int] = field(default_factory=list)
    """Empty, or the same length as completion_ids: 1 on forced prefix tokens that carry the SFT (NLL) loss."""
    sampled: int | None = None
    """Tokens the policy sampled, whatever the loss mask keeps of them (a truncated completion, think blocks under
    `loss_tokens: action`); None: the loss mask counts them."""

    def sampled_tokens(self) -> int:
        """Tokens the policy sampled: `sampled`, else the loss mask, else (masked whole) the completion less its
        forced prefix."""
        if self.sampled is not None:
            return self.sampled
        return sum(self.loss_mask) or len(self.completion_ids) - self.prefix_tokens

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view for sample logs and reports."""
        return {
            "id": self.example_id,
            "completion": self.text,
            "think": self.action.think,
            "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in self.action.tool_calls],
            "answer": self.action.content,
            "problems": self.action.problems,
            "reward": self.reward,
            "components": self.components,
            "truncated": self.truncated,
            "tool_trace": self.tool_trace,
            "prefix_tokens": self.prefix_tokens,
        }
