"""Banking conversations: balances, transfers, fractions and top-ups computed from a balance, transactions.

Left out: payments to other people (the backend only moves money between the user's own accounts).
"""

from __future__ import annotations

from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.entities import ACCOUNTS, CURRENCIES, MERCHANTS
from thinkact.bench.synthetic.phrasing import Phrases, join_words, money
from thinkact.bench.synthetic.scenarios.common import Chat, Scenario, build_no_tool
from thinkact.parse import ToolCall

DOMAIN = "banking"

ASK_BALANCE = Phrases(
    seen=(
        "What's my {account} balance?",
        "How much money is in my {account} account?",
        "Can you check the balance of my {account} account?",
        "How much do I have left in {account}?",
    ),
    held_out=("Balance on {account}, please.", "Tell me what's sitting in my {account} account."),
)
ASK_TOTAL = Phrases(
    seen=(
        "How much do I have in {a} and {b} together?",
        "What's the combined balance of my {a} and {b} accounts?",
    ),
    held_out=("Add up {a} and {b} for me: what's the total?",),
)
ASK_TRANSFER = Phrases(
    seen=(
        "Move {amount} {currency} from {a} to {b}.",
        "Please transfer {amount} {currency} from my {a} account to {b}.",
        "Can you put {amount} {currency} from {a} into {b}?",
    ),
    held_out=(
        "Shift {amount} {currency} over from {a} to {b}.",
        "I need {amount} {currency} taken out of {a} and put in {b}.",
    ),
)
ASK_FRACTION = Phrases(
    seen=(
        "Move {fraction} of my {a} balance to {b}.",
        "Transfer {fraction} of what I have in {a} over to {b}.",
    ),
    held_out=("Take {fraction} of the {a} money and park it in {b}.",),
)
ASK_TOP_UP = Phrases(
    seen=(
        "Top up my {a} account to {target} {currency} using money from {b}.",
        "I want exactly {target} {currency} in {a}. Fill it up from {b}.",
    ),
    held_out=("Bring {a} up to {target} {currency}; the difference should come from {b}.",),
)
ASK_VAGUE_TRANSFER = Phrases(
    seen=("I'd like to move some money into {b}.", "Can you make a transfer to my {b} account?"),
    held_out=("Money into {b}, please.",),
)
GIVE_TRANSFER = Phrases(
    seen=("{amount} {currency} from {a}.", "Take {amount} from {a}.", "From {a}, {amount} {currency}."),
    held_out=("{amount} {currency}, out of {a}.",),
)
ASK_TRANSACTIONS = Phrases(
    seen=(
        "Show me the last {n} transactions on my {account} account.",
        "What were my last {n} {account} transactions?",
    ),
    held_out=("List the {n} most recent things on {account}.",),
)
ASK_BIGGEST = Phrases(
    seen=(
        "What was my biggest expense among my recent {account} transactions?",
        "Which of my recent {account} payments was the largest?",
    ),
    held_out=("Biggest recent spend on {account}?",),
)
ASK_MOVE_SOME = Phrases(
    seen=("OK, move {amount} of it to {b}.", "Then transfer {amount} from it to {b}."),
    held_out=("Fine, send {amount} of that over to {b}.",),
)
CHATS = (
    Chat(
        Phrases(
            seen=("What's the difference between a checking and a savings account?",),
            held_out=("Checking vs savings account: how do they differ?",),
        ),
        "A general question about account types; I can answer without any tool.",
        "A checking account is for everyday payments; a savings account is for money you keep aside and "
        "usually earns interest.",
        ("interest",),
    ),
    Chat(
        Phrases(
            seen=("Is it safe to share my PIN with the bank assistant?",),
            held_out=("Should I tell you my PIN?",),
        ),
        "The user asks whether to share a PIN; this is about security, not an account, so no tool is needed and "
        "the answer must be a clear no.",
        "No. Never share your PIN with anyone, including me; I never need it to help you.",
        ("PIN",),
    ),
    Chat(
        Phrases(
            seen=("Thanks, that's everything.", "Perfect, thank you!"), held_out=("All sorted, cheers.",)
        ),
        "The user is closing the conversation and asks for nothing new, so there is nothing to look up.",
        "You're welcome! Have a good day.",
        bare=True,
    ),
)
FRACTIONS = (("half", 0.5), ("a quarter", 0.25), ("10%", 0.1), ("a third", 1 / 3))


def _cents(ctx: Context, low: int, high: int) -> float:
    return ctx.rng.randint(low * 100, high * 100) / 100


def sample_state(ctx: Context) -> dict[str, Any]:
    """Two to four accounts with balances, a currency and a few recent transactions."""
    extra = ctx.sample(ACCOUNTS, ctx.rng.randint(0, 2))
    accounts = {"checking": _cents(ctx, 300, 4000), "savings": _cents(ctx, 1000, 20000)}
    accounts.update({name: _cents(ctx, 50, 3000) for name in extra})
    transactions = []
    for number in range(1, ctx.rng.randint(4, 7) + 1):
        account = "checking" if number % 3 else ctx.choose(list(accounts))
        transactions.append(
            {
                "id": f"T{number}",
                "account": account,
                "description": ctx.pick(MERCHANTS),
                "amount": -_cents(ctx, 3, 250),
            }
        )
    return {
        "currency": ctx.choose(CURRENCIES),
        "accounts": accounts,
        "transactions": transactions,
        "next_id": len(transactions) + 1,
    }


def _two_accounts(ctx: Context, state: dict[str, Any]) -> tuple[str, str]:
    first, second = ctx.rng.sample(sorted(state["accounts"]), 2)
    return first, second


def write_balance(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    account = ctx.choose(sorted(state["accounts"]))
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_BALANCE, account=account))
    (result,) = dialogue.call(
        f"The user asks for the {account} balance. I call get_balance.",
        ToolCall("get_balance", {"account": account}),
    )
    amount = money(result["balance"])
    dialogue.answer(
        f"get_balance says {account} holds {amount} {result['currency']}; I report it.",
        f"Your {account} account has {amount} {result['currency']}.",
        [amount],
    )
    return dialogue


def write_total_balance(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    a, b = _two_accounts(ctx, state)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_TOTAL, a=a, b=b))
    first, second = dialogue.call(
        f"I need both balances, {a} and {b}; the calls are independent, so I make them together.",
        ToolCall("get_balance", {"account": a}),
        ToolCall("get_balance", {"account": b}),
    )
    total = money(first["balance"] + second["balance"])
    currency = first["currency"]
    dialogue.answer(
        f"{a} has {money(first['balance'])} and {b} has {money(second['balance'])}; together "
        f"{money(first['balance'])} + {money(second['balance'])} = {total}.",
        f"Together you have {total} {currency}: {money(first['balance'])} in {a} "
        f"and {money(second['balance'])} in {b}.",
        [total],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_transfer(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    a, b = _two_accounts(ctx, state)
    amount = ctx.rng.randint(1, max(1, int(state["accounts"][a] // 10))) * 5
    amount = min(amount, int(state["accounts"][a]))
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_TRANSFER, amount=amount, currency=state["currency"], a=a, b=b))
    (result,) = dialogue.call(
        f"The user gave everything transfer needs: {amount} from {a} to {b}. I call transfer.",
        ToolCall("transfer", {"from_account": a, "to_account": b, "amount": amount}),
    )
    left = money(result["from_balance"])
    dialogue.answer(
        f"transfer {result['transfer_id']} went through: {amount} left {a}, which now holds {left}. I confirm the "
        "amount and the new balance.",
        f"Done: {amount} {state['currency']} moved from {a} to {b} ({result['transfer_id']}). {a} now has {left}.",
        [str(amount), left],
    )
    return dialogue


def write_transfer_fraction(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    a, b = _two_accounts(ctx, state)
    word, share = ctx.choose(FRACTIONS)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_FRACTION, fraction=word, a=a, b=b))
    (current,) = dialogue.call(
        f"To move {word} of the {a} balance I first need that balance. I call get_balance.",
        ToolCall("get_balance", {"account": a}),
    )
    amount = round(current["balance"] * share, 2)
    (result,) = dialogue.call(
        f"{a} holds {money(current['balance'])}; {word} of that is {money(amount)} (rounded to cents). "
        f"I transfer it to {b}.",
        ToolCall("transfer", {"from_account": a, "to_account": b, "amount": amount}),
    )
    dialogue.answer(
        f"The transfer of {money(amount)} succeeded; I confirm with the new {a} balance.",
        f"I moved {money(amount)} {result['currency']} ({word} of your {a} balance) to {b}. "
        f"{a} now has {money(result['from_balance'])}.",
        [money(amount), money(result["from_balance"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_top_up(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    a, b = _two_accounts(ctx, state)
    target = (int(state["accounts"][a]) // 100 + ctx.rng.randint(1, 5)) * 100
    state["accounts"][b] = max(state["accounts"][b], float(target))
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_TOP_UP, a=a, b=b, target=target, currency=state["currency"]))
    (current,) = dialogue.call(
        f"To top {a} up to {target} I need its current balance first. I call get_balance.",
        ToolCall("get_balance", {"account": a}),
    )
    gap = round(target - current["balance"], 2)
    (result,) = dialogue.call(
        f"{a} has {money(current['balance'])}; {target} - {money(current['balance'])} = {money(gap)}, so I "
        f"transfer {money(gap)} from {b}.",
        ToolCall("transfer", {"from_account": b, "to_account": a, "amount": gap}),
    )
    dialogue.answer(
        f"transfer moved {money(gap)} from {b}; {a} now holds {money(result['to_balance'])}, exactly the target, "
        "so I confirm.",
        f"I moved {money(gap)} {result['currency']} from {b}, so {a} now has {money(result['to_balance'])}.",
        [money(gap), money(result["to_balance"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_vague_transfer(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    a, b = _two_accounts(ctx, state)
    amount = min(ctx.rng.randint(2, 40) * 10, int(state["accounts"][a]))
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_VAGUE_TRANSFER, b=b))
    dialogue.ask(
        f"The user wants money moved into {b} but gave neither the amount nor the source account; transfer "
        "needs both, so I ask.",
        "Of course. How much should I move, and from which account?",
    )
    dialogue.user(ctx.say(GIVE_TRANSFER, bare=True, amount=amount, currency=state["currency"], a=a))
    (result,) = dialogue.call(
        f"Now I know: {amount} from {a} to {b}. I call transfer.",
        ToolCall("transfer", {"from_account": a, "to_account": b, "amount": amount}),
    )
    dialogue.answer(
        f"transfer {result['transfer_id']} succeeded; {b} now holds {money(result['to_balance'])}, so I confirm "
        "the amount and that balance.",
        f"Done: {amount} {result['currency']} moved from {a} to {b}. {b} now has {money(result['to_balance'])}.",
        [str(amount), money(result["to_balance"])],
    )
    return dialogue


def _described(transactions: list[dict[str, Any]]) -> list[str]:
    return [f"{t['description']} ({money(t['amount'])})" for t in transactions]


def write_recent_transactions(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    n = ctx.rng.randint(2, 4)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_TRANSACTIONS, n=n, account="checking"))
    (result,) = dialogue.call(
        f"The user wants the last {n} checking transactions, so I call list_transactions with limit {n}.",
        ToolCall("list_transactions", {"account": "checking", "limit": n}),
    )
    items = result["transactions"]
    dialogue.answer(
        f"list_transactions returned {len(items)} transactions, newest first; I list each description with its "
        "amount, as the user asked.",
        f"Your last {len(items)} checking transactions: {join_words(_described(items))}.",
        [t["description"] for t in items],
    )
    return dialogue


def write_biggest_expense(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_BIGGEST, account="checking"))
    (result,) = dialogue.call(
        "I need the recent checking transactions to compare them. I call list_transactions.",
        ToolCall("list_transactions", {"account": "checking"}),
    )
    biggest = min(result["transactions"], key=lambda t: t["amount"])
    dialogue.answer(
        f"Among the {len(result['transactions'])} transactions the most negative amount is {money(biggest['amount'])} "
        f"({biggest['description']}).",
        f"Your biggest recent expense was {biggest['description']}: {money(-biggest['amount'])} {result['currency']}.",
        [biggest["description"], money(-biggest["amount"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_balance_then_transfer(ctx: Context) -> Dialogue:
    state = sample_state(ctx)
    a, b = _two_accounts(ctx, state)
    amount = min(ctx.rng.randint(1, 20) * 25, int(state["accounts"][a]))
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_BALANCE, account=a))
    (result,) = dialogue.call(
        f"The user asks for the {a} balance. I call get_balance.", ToolCall("get_balance", {"account": a})
    )
    dialogue.answer(
        f"get_balance says {a} holds {money(result['balance'])} {result['currency']}; I tell the user.",
        f"Your {a} account has {money(result['balance'])} {result['currency']}.",
        [money(result["balance"])],
    )
    dialogue.user(ctx.say(ASK_MOVE_SOME, bare=True, amount=amount, b=b))
    (moved,) = dialogue.call(
        f"'It' is the {a} account from the previous answer, so I transfer {amount} from {a} to {b}.",
        ToolCall("transfer", {"from_account": a, "to_account": b, "amount": amount}),
    )
    dialogue.answer(
        f"transfer {moved['transfer_id']} succeeded; {a} now holds {money(moved['from_balance'])}, so I confirm "
        "the amount and the new balance.",
        f"Done: {amount} {moved['currency']} moved to {b}. {a} now has {money(moved['from_balance'])}.",
        [str(amount), money(moved["from_balance"])],
    )
    return dialogue


def write_chat(ctx: Context) -> Dialogue:
    return build_no_tool(ctx, DOMAIN, sample_state(ctx), CHATS)


SCENARIOS = (
    Scenario("balance", write_balance, 1.5),
    Scenario("total_balance", write_total_balance),
    Scenario("transfer", write_transfer, 1.5),
    Scenario("transfer_fraction", write_transfer_fraction),
    Scenario("top_up", write_top_up),
    Scenario("vague_transfer", write_vague_transfer),
    Scenario("recent_transactions", write_recent_transactions),
    Scenario("biggest_expense", write_biggest_expense),
    Scenario("balance_then_transfer", write_balance_then_transfer),
    Scenario("chat", write_chat, 0.8),
)
