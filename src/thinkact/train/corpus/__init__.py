"""The pretraining corpus of the tiny base: generated tool-use conversations and plain text, disjoint from the
bundled benchmark.

A real base model (vanilla Qwen3-1.7B in the paper) already knows the tool-call format, can copy a name or a
number from a request into a call's arguments, reads dates and answers from a tool's result. This corpus gives
the tiny model that knowledge without showing it the benchmark: its domains, tool names, system prompts, user
phrasings and reasoning sentences are all its own (a test checks that none of the benchmark's tool names or
template sentences appear), and its entities are invented pseudo-words, so copying has to be learned as copying.

What it holds (each conversation rendered later through the chat template, with tools):
- single, parallel and chained calls, a follow-up request in a second user turn, a question that needs a detail
  the user did not give (asked for, then called), and small talk that needs no tool;
- reasoning before every action, including dates worked out from the system prompt's date ("tomorrow",
  "in 3 days", "on Friday") and sums over numbers;
- plain-text documents: calendar facts (the day after a date, weekdays), arithmetic, short descriptions.

Left out: the benchmark's seven domains and their phrasings (on purpose), errors returned by tools, and any
natural-language text beyond what templates give.

In pipeline order: `tools.py` (parameter, tool, domain), `domains.py` (the fixed domains), `invented.py` (domains
invented per conversation), `conversations.py` (the generator); the entity words come from `data.words`.
"""

from thinkact.train.corpus.conversations import generate_conversations, generate_documents
from thinkact.train.corpus.domains import DOMAINS
from thinkact.train.corpus.invented import invent_domain

__all__ = ["DOMAINS", "generate_conversations", "generate_documents", "invent_domain"]
