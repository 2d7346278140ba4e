"""Contacts and messaging conversations (the held-out domain: only `test_ood` uses it): look-ups, texts that
need a contact id first, new contacts, ambiguous names that need a question back.

Left out: incoming messages (the backend has none).
"""

from __future__ import annotations

from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.entities import FIRST_NAMES, LAST_NAMES, MESSAGES
from thinkact.bench.synthetic.phrasing import Phrases, join_words
from thinkact.bench.synthetic.scenarios.common import Chat, Scenario, build_no_tool
from thinkact.parse import ToolCall

DOMAIN = "contacts"

ASK_PHONE = Phrases(
    seen=(
        "What's {name}'s phone number?",
        "Can you look up the number for {name}?",
        "I need {name}'s number.",
    ),
    held_out=("Number of {name}?",),
)
ASK_TEXT = Phrases(
    seen=("Text {name}: {text}.", 'Send {name} a message saying "{text}".', "Message {name}: {text}."),
    held_out=("Shoot {name} a text: {text}.",),
)
ASK_ADD = Phrases(
    seen=(
        "Save {name} as a new contact, number {phone}.",
        "Add {name} to my contacts with the number {phone}.",
    ),
    held_out=("New contact: {name}, {phone}.",),
)
ASK_MESSAGE_VAGUE = Phrases(
    seen=("Send a message to {name}.", "I want to text {name}."),
    held_out=("Message {name}.",),
)
GIVE_TEXT = Phrases(seen=("Say: {text}.", '"{text}"', "Tell them: {text}."), held_out=("{text}.",))
ASK_EMAILS = Phrases(
    seen=("What are the email addresses of {a} and {b}?", "Give me {a}'s and {b}'s emails."),
    held_out=("Emails for {a} and {b}?",),
)
GIVE_WHICH = Phrases(seen=("{full}.", "I mean {full}.", "The {last} one."), held_out=("{full}, please.",))
ASK_TEXT_THEM = Phrases(
    seen=("Great, text them: {text}.", "Now send them a message: {text}."),
    held_out=('Ok, message them "{text}".',),
)
CHATS = (
    Chat(
        Phrases(seen=("Can you read my messages aloud?",), held_out=("Read my texts out loud?",)),
        "None of my tools reads incoming messages, so I say what I can do instead.",
        "I can't read incoming messages, but I can look up contacts, add new ones and send texts for you.",
        ("send",),
    ),
    Chat(
        Phrases(seen=("Thanks, that's all!",), held_out=("Done, cheers.",)),
        "The user is finished and asks for nothing new, so no tool is needed; I reply politely.",
        "You're welcome!",
        bare=True,
    ),
)


def _phone(ctx: Context) -> str:
    return f"+{ctx.rng.randint(1, 99)} 555 {ctx.rng.randint(1000, 9999)}"


def sample_state(ctx: Context, names: list[tuple[str, str]], others: int = 4) -> dict[str, Any]:
    """The given (first, last) names plus a few others with different first names, in shuffled order."""
    people = list(names)
    taken = {first for first, _ in names}
    while len(people) < len(names) + others:
        first, last = ctx.pick(FIRST_NAMES), ctx.pick(LAST_NAMES)
        if first not in taken:
            taken.add(first)
            people.append((first, last))
    ctx.rng.shuffle(people)
    ids = ctx.rng.sample(range(10, 100), len(people))
    contacts = {
        f"C{number}": {
            "name": f"{first} {last}",
            "phone": _phone(ctx),
            "email": f"{first.lower()}.{last.lower()}@example.com",
        }
        for number, (first, last) in zip(ids, people, strict=True)
    }
    return {"contacts": contacts, "outbox": [], "next_id": 100}


def _person(ctx: Context) -> tuple[str, str]:
    return ctx.pick(FIRST_NAMES), ctx.pick(LAST_NAMES)


def _sent_reason(sent: dict[str, Any]) -> str:
    return f"send_message sent the text to {sent['to']} as {sent['message_id']}; I confirm what was sent and to whom."


def write_lookup_phone(ctx: Context) -> Dialogue:
    first, last = _person(ctx)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(first, last)]))
    name = ctx.choose((first, f"{first} {last}"))
    dialogue.user(ctx.say(ASK_PHONE, name=name))
    (result,) = dialogue.call(
        f"The user wants {name}'s phone number; find_contact returns contact details, so I look the name up.",
        ToolCall("find_contact", {"name": name}),
    )
    match = result["matches"][0]
    dialogue.answer(
        f"find_contact returned one match, {match['name']}, with phone {match['phone']}.",
        f"{match['name']}'s number is {match['phone']}.",
        [match["phone"]],
    )
    return dialogue


def _send(dialogue: Dialogue, name: str, text: str) -> None:
    (found,) = dialogue.call(
        f"send_message needs a contact id, so I look {name} up first.",
        ToolCall("find_contact", {"name": name}),
    )
    match = found["matches"][0]
    (sent,) = dialogue.call(
        f"{match['name']} has id {match['id']}. I send the text.",
        ToolCall("send_message", {"contact_id": match["id"], "text": text}),
    )
    dialogue.answer(
        _sent_reason(sent),
        f'Sent to {sent["to"]}: "{text}".',
        [sent["to"]],
    )


def write_text_contact(ctx: Context) -> Dialogue:
    first, last = _person(ctx)
    text = ctx.pick(MESSAGES)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(first, last)]))
    dialogue.user(ctx.say(ASK_TEXT, name=first, text=text))
    _send(dialogue, first, text)
    return dialogue


def write_add_new(ctx: Context) -> Dialogue:
    first, last = _person(ctx)
    phone = _phone(ctx)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, []))
    dialogue.user(ctx.say(ASK_ADD, name=f"{first} {last}", phone=phone))
    (result,) = dialogue.call(
        "The user gave a name and a number, all add_contact requires; no email was given, so I leave it out.",
        ToolCall("add_contact", {"name": f"{first} {last}", "phone": phone}),
    )
    dialogue.answer(
        f"add_contact saved {first} {last} as {result['id']} with phone {phone}; I confirm the new contact.",
        f"Saved {first} {last} ({phone}) to your contacts.",
        [phone],
    )
    return dialogue


def write_message_vague(ctx: Context) -> Dialogue:
    first, last = _person(ctx)
    text = ctx.pick(MESSAGES)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(first, last)]))
    dialogue.user(ctx.say(ASK_MESSAGE_VAGUE, name=f"{first} {last}"))
    dialogue.ask(
        "send_message needs the text, and the user did not say what to send; I ask.",
        "Sure. What should the message say?",
    )
    dialogue.user(ctx.say(GIVE_TEXT, bare=True, text=text))
    _send(dialogue, f"{first} {last}", text)
    return dialogue


def write_two_emails(ctx: Context) -> Dialogue:
    a, b = _person(ctx), _person(ctx)
    while b[0] == a[0]:
        b = _person(ctx)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [a, b]))
    dialogue.user(ctx.say(ASK_EMAILS, a=a[0], b=b[0]))
    first, second = dialogue.call(
        f"Two independent look-ups, {a[0]} and {b[0]}; I call find_contact for both at once.",
        ToolCall("find_contact", {"name": a[0]}),
        ToolCall("find_contact", {"name": b[0]}),
    )
    x, y = first["matches"][0], second["matches"][0]
    dialogue.answer(
        f"Each look-up found one contact, {x['name']} and {y['name']}; I give both email addresses.",
        f"{x['name']}: {x['email']}; {y['name']}: {y['email']}.",
        [x["email"], y["email"]],
    )
    return dialogue


def write_ambiguous(ctx: Context) -> Dialogue:
    first = ctx.pick(FIRST_NAMES)
    last_a, last_b = ctx.sample(LAST_NAMES, 2)
    text = ctx.pick(MESSAGES)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(first, last_a), (first, last_b)]))
    dialogue.user(ctx.say(ASK_TEXT, name=first, text=text))
    (found,) = dialogue.call(
        f"send_message needs an id, so I look {first} up first.", ToolCall("find_contact", {"name": first})
    )
    names = [m["name"] for m in found["matches"]]
    dialogue.ask(
        f"find_contact returned {len(names)} contacts called {first}; I must not guess, so I ask which one.",
        f"I found {join_words(names)}. Which one should I text?",
    )
    chosen = ctx.choose(found["matches"])
    dialogue.user(ctx.say(GIVE_WHICH, bare=True, full=chosen["name"], last=chosen["name"].split()[-1]))
    (sent,) = dialogue.call(
        f"The user means {chosen['name']}, id {chosen['id']} in the earlier results. I send the text.",
        ToolCall("send_message", {"contact_id": chosen["id"], "text": text}),
    )
    dialogue.answer(_sent_reason(sent), f'Sent to {sent["to"]}: "{text}".', [sent["to"]])
    return dialogue


def write_lookup_then_text(ctx: Context) -> Dialogue:
    first, last = _person(ctx)
    text = ctx.pick(MESSAGES)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [(first, last)]))
    dialogue.user(ctx.say(ASK_PHONE, name=first))
    (result,) = dialogue.call(
        f"The user wants {first}'s phone number; find_contact returns contact details, so I look the name up.",
        ToolCall("find_contact", {"name": first}),
    )
    match = result["matches"][0]
    dialogue.answer(
        f"find_contact matched {match['name']}, whose phone is {match['phone']}; I give the number.",
        f"{match['name']}'s number is {match['phone']}.",
        [match["phone"]],
    )
    dialogue.user(ctx.say(ASK_TEXT_THEM, bare=True, text=text))
    (sent,) = dialogue.call(
        f"'Them' is {match['name']}, id {match['id']} from the look-up. I send the text.",
        ToolCall("send_message", {"contact_id": match["id"], "text": text}),
    )
    dialogue.answer(_sent_reason(sent), f'Sent to {sent["to"]}: "{text}".', [sent["to"]])
    return dialogue


def write_chat(ctx: Context) -> Dialogue:
    return build_no_tool(ctx, DOMAIN, sample_state(ctx, []), CHATS)


SCENARIOS = (
    Scenario("lookup_phone", write_lookup_phone, 1.5),
    Scenario("text_contact", write_text_contact, 1.5),
    Scenario("add_new", write_add_new),
    Scenario("message_vague", write_message_vague),
    Scenario("two_emails", write_two_emails),
    Scenario("ambiguous", write_ambiguous),
    Scenario("lookup_then_text", write_lookup_then_text),
    Scenario("chat", write_chat, 0.8),
)
