"""Shopping conversations: searches under a budget, the cheapest of a category, named products in a quantity,
the cart and checkout, and how many items a budget buys.

Left out: returns and payment (the backend has neither).
"""

from __future__ import annotations

import math
from typing import Any

from thinkact.bench.synthetic.context import Context
from thinkact.bench.synthetic.dialogue import Dialogue
from thinkact.bench.synthetic.entities import PRODUCTS
from thinkact.bench.synthetic.phrasing import Phrases, join_words, money, upper_first
from thinkact.bench.synthetic.scenarios.common import Chat, Scenario, build_no_tool
from thinkact.parse import ToolCall

DOMAIN = "shopping"
CATEGORIES = tuple(dict.fromkeys(category for category, _, _ in PRODUCTS))
PLURALS = {category: category if category.endswith("s") else f"{category}s" for category in CATEGORIES}
COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}

ASK_BUDGET = Phrases(
    seen=(
        "Do you have any {category} under {price}?",
        "Show me {category} that cost at most {price}.",
        "I'm looking for {category} for {price} or less.",
    ),
    held_out=("Anything in {category} below {price}?", "Budget is {price}. Which {category} fit?"),
)
ASK_CHEAPEST = Phrases(
    seen=(
        "Add the cheapest {category} to my cart.",
        "Put your least expensive {category} in my cart, please.",
    ),
    held_out=("Whatever {category} costs least, cart it.",),
)
ASK_NAMED = Phrases(
    seen=(
        "Please add {count} {name} to my cart.",
        "I'd like {count} {name} in my cart.",
        "Add {count} x {name}.",
    ),
    held_out=("Cart: {count} of the {name}.",),
)
ASK_CART = Phrases(
    seen=("What's in my cart and how much is it?", "Can you show me my cart total?"),
    held_out=("Cart summary, please.",),
)
ASK_CHECKOUT = Phrases(
    seen=("Check out my cart, please.", "Place the order for what's in my cart."),
    held_out=("Go ahead and buy everything in the cart.",),
)
ASK_WANT = Phrases(
    seen=("I want to buy the {name}.", "I'd like to order the {name}."),
    held_out=("Gimme the {name}.",),
)
GIVE_COUNT = Phrases(
    seen=("{count}, please.", "{count}.", "Make it {count}."), held_out=("{count} of them.",)
)
ASK_TWO = Phrases(
    seen=("Show me {a} and {b} under {price}.", "What {a} and what {b} do you have for at most {price}?"),
    held_out=("{a} plus {b}, max {price} each: options?",),
)
ASK_ADD_LISTED = Phrases(
    seen=("Add {count} of the {name}.", "I'll take {count} {name}, please add them."),
    held_out=("Put {count} {name} in the cart.",),
)
ASK_HOW_MANY = Phrases(
    seen=("How many {name} can I buy with {budget}?", "If I spend {budget}, how many {name} do I get?"),
    held_out=("{budget} budget: how many {name} is that?",),
)
CHATS = (
    Chat(
        Phrases(
            seen=("Can you recommend a gift for a coffee lover?",),
            held_out=("Gift idea for someone into coffee?",),
        ),
        "The user wants a gift idea, not a specific product; I can suggest a kind of product from general "
        "knowledge without searching.",
        "A thermal or travel mug makes a good gift for a coffee lover. I can search the store for one if you like.",
        ("mug",),
    ),
    Chat(
        Phrases(seen=("Thanks, that's all!",), held_out=("Nothing else, ta.",)),
        "The user is done shopping and asks for nothing new, so no tool is needed; I reply politely.",
        "You're welcome! Happy shopping.",
        bare=True,
    ),
)


def sample_state(ctx: Context, categories: list[str], with_cart: bool = False) -> dict[str, Any]:
    """A shuffled catalogue of the given categories plus one other, with jittered prices and random stock."""
    extra = ctx.choose([c for c in CATEGORIES if c not in categories])
    rows = [row for row in PRODUCTS if row[0] in {*categories, extra}]
    ctx.rng.shuffle(rows)
    ids = ctx.rng.sample(range(100, 1000), len(rows))
    products = {
        f"P{number}": {
            "name": name,
            "category": category,
            "price": round(price * ctx.rng.randint(85, 115) / 100, 2),
            "stock": ctx.rng.randint(5, 12),
        }
        for number, (category, name, price) in zip(ids, rows, strict=True)
    }
    cart = {}
    if with_cart:
        for product_id in ctx.rng.sample(sorted(products), ctx.rng.randint(1, 3)):
            cart[product_id] = ctx.rng.randint(1, 3)
    return {"products": products, "cart": cart, "orders": {}, "next_order": ctx.rng.randint(1000, 9000)}


def _product(state: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    return next((pid, p) for pid, p in state["products"].items() if p["name"] == name)


def _results(results: list[dict[str, Any]]) -> str:
    return join_words([f"{r['name']} ({r['id']}, {money(r['price'])})" for r in results])


def write_search_budget(ctx: Context) -> Dialogue:
    category = ctx.choose(CATEGORIES)
    state = sample_state(ctx, [category])
    prices = sorted(p["price"] for p in state["products"].values() if p["category"] == category)
    budget = int(math.ceil(prices[ctx.rng.randint(0, 2)] / 10) * 10)
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_BUDGET, category=PLURALS[category], price=budget))
    (result,) = dialogue.call(
        f"The user wants {PLURALS[category]} costing at most {budget}; search_products takes that as max_price.",
        ToolCall("search_products", {"query": PLURALS[category], "max_price": budget}),
    )
    found = result["results"]
    dialogue.answer(
        f"search_products found {len(found)} {PLURALS[category]} within the budget; I list them with prices.",
        f"Within {budget} I found: {_results(found)}.",
        [r["name"] for r in found],
    )
    return dialogue


def write_add_cheapest(ctx: Context) -> Dialogue:
    category = ctx.choose(CATEGORIES)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [category]))
    dialogue.user(ctx.say(ASK_CHEAPEST, category=category))
    (result,) = dialogue.call(
        f"To find the cheapest {category} I first search the catalogue for {category}.",
        ToolCall("search_products", {"query": category}),
    )
    best = min(result["results"], key=lambda r: r["price"])
    (cart,) = dialogue.call(
        f"Of the {len(result['results'])} results, {best['name']} ({best['id']}) is cheapest at "
        f"{money(best['price'])}. I add it to the cart.",
        ToolCall("add_to_cart", {"product_id": best["id"]}),
    )
    dialogue.answer(
        f"add_to_cart succeeded; the cart total is now {money(cart['total'])}.",
        f"I added {best['name']} ({money(best['price'])}), the cheapest {category}. "
        f"Your cart total is {money(cart['total'])}.",
        [best["name"], money(best["price"])],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def _add_named(dialogue: Dialogue, name: str, count: int) -> dict[str, Any]:
    (result,) = dialogue.call(
        f"add_to_cart needs a product id, so I search for {name} first.",
        ToolCall("search_products", {"query": name}),
    )
    match = next(r for r in result["results"] if r["name"] == name)
    (cart,) = dialogue.call(
        f"{name} has id {match['id']}. I add {count} to the cart.",
        ToolCall("add_to_cart", {"product_id": match["id"], "quantity": count}),
    )
    line = f"{count} x {name} at {money(match['price'])}"
    dialogue.answer(
        f"The cart now holds {line}; total {money(cart['total'])}.",
        f"Added {line}. Your cart total is {money(cart['total'])}.",
        [money(cart["total"])],
    )
    return cart


def write_add_named(ctx: Context) -> Dialogue:
    category, name, _ = ctx.pick(PRODUCTS)
    count = ctx.rng.randint(1, 4)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [category]))
    dialogue.user(ctx.say(ASK_NAMED, count=ctx.choose((str(count), COUNT_WORDS[count])), name=name))
    _add_named(dialogue, name, count)
    return dialogue


def write_want_named(ctx: Context) -> Dialogue:
    category, name, _ = ctx.pick(PRODUCTS)
    count = ctx.rng.randint(1, 4)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [category]))
    dialogue.user(ctx.say(ASK_WANT, name=name))
    dialogue.ask(
        "The user did not say how many to buy; I ask before adding anything.",
        "Sure! How many would you like?",
    )
    dialogue.user(
        upper_first(ctx.say(GIVE_COUNT, bare=True, count=ctx.choose((str(count), COUNT_WORDS[count]))))
    )
    _add_named(dialogue, name, count)
    return dialogue


def write_cart_total(ctx: Context) -> Dialogue:
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [ctx.choose(CATEGORIES)], with_cart=True))
    dialogue.user(ctx.say(ASK_CART))
    (cart,) = dialogue.call(
        "The user asks about the cart; view_cart returns items and total.", ToolCall("view_cart", {})
    )
    lines = [f"{i['quantity']} x {i['name']}" for i in cart["items"]]
    dialogue.answer(
        f"view_cart lists {len(lines)} item line(s) with a total of {money(cart['total'])}.",
        f"Your cart has {join_words(lines)}, for a total of {money(cart['total'])}.",
        [money(cart["total"])],
    )
    return dialogue


def write_checkout(ctx: Context) -> Dialogue:
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [ctx.choose(CATEGORIES)], with_cart=True))
    dialogue.user(ctx.say(ASK_CHECKOUT))
    (order,) = dialogue.call(
        "The user wants to order the cart as it is; checkout takes no arguments.", ToolCall("checkout", {})
    )
    dialogue.answer(
        f"checkout created order {order['order_id']} for {money(order['total'])}; I give the user the order id "
        "and the total.",
        f"Your order {order['order_id']} is placed, total {money(order['total'])}.",
        [order["order_id"], money(order["total"])],
    )
    return dialogue


def write_two_categories(ctx: Context) -> Dialogue:
    first, second = ctx.rng.sample(CATEGORIES, 2)
    state = sample_state(ctx, [first, second])
    cheapest = max(
        min(p["price"] for p in state["products"].values() if p["category"] == c) for c in (first, second)
    )
    budget = int(math.ceil(cheapest / 10) * 10) + 10
    dialogue = Dialogue(ctx, DOMAIN, state)
    dialogue.user(ctx.say(ASK_TWO, a=PLURALS[first], b=PLURALS[second], price=budget))
    a, b = dialogue.call(
        f"Two independent searches, {PLURALS[first]} and {PLURALS[second]}, each with max_price {budget}; "
        "I run them together.",
        ToolCall("search_products", {"query": PLURALS[first], "max_price": budget}),
        ToolCall("search_products", {"query": PLURALS[second], "max_price": budget}),
    )
    dialogue.answer(
        f"The {PLURALS[first]} search found {len(a['results'])} and the {PLURALS[second]} search "
        f"{len(b['results'])} products within {budget}; I list both.",
        f"{PLURALS[first].capitalize()}: {_results(a['results'])}. "
        f"{PLURALS[second].capitalize()}: {_results(b['results'])}.",
        [r["name"] for r in a["results"] + b["results"]],
    )
    return dialogue


def write_search_then_add(ctx: Context) -> Dialogue:
    category = ctx.choose(CATEGORIES)
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [category]))
    dialogue.user(ctx.say(ASK_BUDGET, category=PLURALS[category], price=250))
    (result,) = dialogue.call(
        f"The user wants {PLURALS[category]} up to 250; I search with max_price 250.",
        ToolCall("search_products", {"query": PLURALS[category], "max_price": 250}),
    )
    dialogue.answer(
        f"search_products found {len(result['results'])} {PLURALS[category]} up to 250; I list them with ids "
        "and prices so the user can pick.",
        f"I found: {_results(result['results'])}.",
        [r["name"] for r in result["results"]],
    )
    choice = ctx.choose(result["results"])
    count = ctx.rng.randint(1, 3)
    dialogue.user(ctx.say(ASK_ADD_LISTED, bare=True, count=COUNT_WORDS[count], name=choice["name"]))
    (cart,) = dialogue.call(
        f"The earlier results give {choice['name']} the id {choice['id']}; "
        f"{COUNT_WORDS[count]} means quantity {count}.",
        ToolCall("add_to_cart", {"product_id": choice["id"], "quantity": count}),
    )
    dialogue.answer(
        f"add_to_cart added {count} x {choice['name']}; the cart total is now {money(cart['total'])}, which I report.",
        f"Added {count} x {choice['name']}. Your cart total is {money(cart['total'])}.",
        [money(cart["total"])],
    )
    return dialogue


def write_budget_count(ctx: Context) -> Dialogue:
    category, name, list_price = ctx.pick(PRODUCTS)
    budget = ctx.choose([b for b in (50, 100, 150, 200, 300, 500) if b >= list_price * 1.15])
    dialogue = Dialogue(ctx, DOMAIN, sample_state(ctx, [category]))
    dialogue.user(ctx.say(ASK_HOW_MANY, name=name, budget=budget))
    (result,) = dialogue.call(
        f"I need the price of {name}; I search for it.", ToolCall("search_products", {"query": name})
    )
    price = next(r["price"] for r in result["results"] if r["name"] == name)
    count = int(budget // price)
    dialogue.answer(
        f"{name} costs {money(price)}; {budget} / {money(price)} = {budget / price:.2f}, so {count} whole item(s).",
        f"{name} costs {money(price)}, so {budget} buys {count} of them.",
        [money(price), str(count)],
    )
    dialogue.mark("reasoning_args")
    return dialogue


def write_chat(ctx: Context) -> Dialogue:
    return build_no_tool(ctx, DOMAIN, sample_state(ctx, [ctx.choose(CATEGORIES)]), CHATS)


SCENARIOS = (
    Scenario("search_budget", write_search_budget, 1.5),
    Scenario("add_cheapest", write_add_cheapest),
    Scenario("add_named", write_add_named, 1.5),
    Scenario("want_named", write_want_named),
    Scenario("cart_total", write_cart_total),
    Scenario("checkout", write_checkout),
    Scenario("two_categories", write_two_categories),
    Scenario("search_then_add", write_search_then_add),
    Scenario("budget_count", write_budget_count),
    Scenario("chat", write_chat, 0.8),
)
