"""Banking: balances, transfers between the user's own accounts, and recent transactions.

State: `{"currency": str, "accounts": {name: balance}, "transactions": [{"id", "account", "description",
"amount"}], "next_id": int}`. Amounts are rounded to cents. Left out: payees outside the user's accounts,
dates and interest.
"""

from __future__ import annotations

from typing import Any

from thinkact.envs.tools import Domain, State, Tool, ToolError, find_key, object_schema


def get_balance(state: State, account: str) -> dict[str, Any]:
    name = find_key(state["accounts"], account, "account")
    return {"account": name, "balance": state["accounts"][name], "currency": state["currency"]}


def transfer(state: State, from_account: str, to_account: str, amount: float) -> dict[str, Any]:
    source = find_key(state["accounts"], from_account, "account")
    target = find_key(state["accounts"], to_account, "account")
    amount = round(amount, 2)
    if source == target:
        raise ToolError("from_account and to_account are the same account; choose two different accounts")
    if amount <= 0:
        raise ToolError("amount must be at least 0.01")
    if state["accounts"][source] < amount:
        raise ToolError(
            f"insufficient funds: {source} has {state['accounts'][source]:.2f}, the transfer needs {amount:.2f}"
        )
    state["accounts"][source] = round(state["accounts"][source] - amount, 2)
    state["accounts"][target] = round(state["accounts"][target] + amount, 2)
    transfer_id = f"T{state['next_id']}"
    state["next_id"] += 1
    for account, signed in ((source, -amount), (target, amount)):
        record = {
            "id": transfer_id,
            "account": account,
            "description": f"transfer {source} to {target}",
            "amount": signed,
        }
        state["transactions"].append(record)
    return {
        "transfer_id": transfer_id,
        "amount": amount,
        "from_balance": state["accounts"][source],
        "to_balance": state["accounts"][target],
        "currency": state["currency"],
    }


def list_transactions(state: State, account: str, limit: int = 5) -> dict[str, Any]:
    name = find_key(state["accounts"], account, "account")
    mine = [
        {k: v for k, v in t.items() if k != "account"} for t in state["transactions"] if t["account"] == name
    ]
    return {"account": name, "transactions": mine[::-1][:limit], "currency": state["currency"]}


def default_state() -> State:
    return {
        "currency": "EUR",
        "accounts": {"checking": 1520.35, "savings": 5200.0},
        "transactions": [
            {"id": "T1", "account": "checking", "description": "Supermarket", "amount": -42.1},
            {"id": "T2", "account": "checking", "description": "Salary", "amount": 2100.0},
        ],
        "next_id": 3,
    }


_ACCOUNT = {"type": "string", "description": "Account name, e.g. checking"}
DOMAIN = Domain(
    name="banking",
    role="You are a banking assistant for the user's own accounts.",
    tools=(
        Tool("get_balance", "Balance of one account.", object_schema({"account": _ACCOUNT}), get_balance),
        Tool(
            "transfer",
            "Move money between two of the user's accounts.",
            object_schema(
                {
                    "from_account": _ACCOUNT,
                    "to_account": _ACCOUNT,
                    "amount": {"type": "number", "exclusiveMinimum": 0},
                }
            ),
            transfer,
        ),
        Tool(
            "list_transactions",
            "Latest transactions of an account, newest first.",
            object_schema(
                {
                    "account": _ACCOUNT,
                    "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
                },
                ["account"],
            ),
            list_transactions,
        ),
    ),
    default_state=default_state,
)
