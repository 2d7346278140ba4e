"""Contacts and messaging: find a contact, add one, send a text message.

State: `{"contacts": {id: {"name", "phone", "email"}}, "outbox": [{"id", "contact_id", "text"}], "next_id": int}`.
This is the benchmark's held-out domain: its tools never occur in `train`. Left out: receiving messages, groups.
"""

from __future__ import annotations

from typing import Any

from thinkact.envs.tools import Domain, State, Tool, ToolError, object_schema


def find_contact(state: State, name: str) -> dict[str, Any]:
    wanted = name.strip().casefold()
    matches = [{"id": cid, **c} for cid, c in state["contacts"].items() if wanted in c["name"].casefold()]
    return {"query": name, "matches": matches}


def add_contact(state: State, name: str, phone: str, email: str | None = None) -> dict[str, Any]:
    if not any(ch.isdigit() for ch in phone):
        raise ToolError(f"{phone!r} is not a phone number; give digits, e.g. +47 555 0101")
    contact_id = f"C{state['next_id']}"
    state["next_id"] += 1
    state["contacts"][contact_id] = {"name": name, "phone": phone, "email": email}
    return {"id": contact_id, **state["contacts"][contact_id]}


def send_message(state: State, contact_id: str, text: str) -> dict[str, Any]:
    contact = state["contacts"].get(contact_id)
    if contact is None:
        raise ToolError(f"no contact with id {contact_id!r}; find ids with find_contact")
    if not text.strip():
        raise ToolError("the message text is empty; say what to send")
    message_id = f"M{state['next_id']}"
    state["next_id"] += 1
    state["outbox"].append({"id": message_id, "contact_id": contact_id, "text": text})
    return {"message_id": message_id, "to": contact["name"], "status": "sent"}


def default_state() -> State:
    return {
        "contacts": {"C1": {"name": "Ana Silva", "phone": "+351 555 0101", "email": "ana@example.com"}},
        "outbox": [],
        "next_id": 2,
    }


DOMAIN = Domain(
    name="contacts",
    role="You are a phone assistant that manages contacts and sends messages.",
    tools=(
        Tool(
            "find_contact",
            "Contacts whose name contains the text.",
            object_schema({"name": {"type": "string"}}),
            find_contact,
        ),
        Tool(
            "add_contact",
            "Save a new contact.",
            object_schema(
                {"name": {"type": "string"}, "phone": {"type": "string"}, "email": {"type": "string"}},
                ["name", "phone"],
            ),
            add_contact,
        ),
        Tool(
            "send_message",
            "Send a text message to a contact.",
            object_schema({"contact_id": {"type": "string"}, "text": {"type": "string"}}),
            send_message,
        ),
    ),
    default_state=default_state,
)
