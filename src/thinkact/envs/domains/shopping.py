"""Shopping: search a catalogue, fill a cart, check out (which takes the items from stock).

State: `{"products": {id: {"name", "category", "price", "stock"}}, "cart": {id: quantity}, "orders": {id:
{"items", "total"}}, "next_order": int}`. Search results come in catalogue order, not by price, so "the
cheapest" takes reasoning. Left out: payment, shipping and discounts.
"""

from __future__ import annotations

from typing import Any

from thinkact.envs.tools import Domain, State, Tool, ToolError, object_schema


def search_products(state: State, query: str, max_price: float | None = None) -> dict[str, Any]:
    words = query.casefold().split()
    results = []
    for product_id, product in state["products"].items():
        text = f"{product['name']} {product['category']}".casefold()
        if all(word.rstrip("s") in text for word in words) and (
            max_price is None or product["price"] <= max_price
        ):
            results.append(
                {
                    "id": product_id,
                    "name": product["name"],
                    "price": product["price"],
                    "stock": product["stock"],
                }
            )
    return {"query": query, "results": results}


def _cart(state: State) -> dict[str, Any]:
    items = []
    total = 0.0
    for product_id, quantity in state["cart"].items():
        product = state["products"][product_id]
        items.append(
            {"id": product_id, "name": product["name"], "quantity": quantity, "price": product["price"]}
        )
        total += quantity * product["price"]
    return {"items": items, "total": round(total, 2)}


def add_to_cart(state: State, product_id: str, quantity: int = 1) -> dict[str, Any]:
    product = state["products"].get(product_id)
    if product is None:
        raise ToolError(f"no product with id {product_id!r}; find ids with search_products")
    wanted = state["cart"].get(product_id, 0) + quantity
    if wanted > product["stock"]:
        raise ToolError(
            f"only {product['stock']} of {product['name']} in stock; the cart would hold {wanted}"
        )
    state["cart"][product_id] = wanted
    return _cart(state)


def view_cart(state: State) -> dict[str, Any]:
    return _cart(state)


def checkout(state: State) -> dict[str, Any]:
    if not state["cart"]:
        raise ToolError("the cart is empty; add products with add_to_cart first")
    order = _cart(state)
    for product_id, quantity in state["cart"].items():
        state["products"][product_id]["stock"] -= quantity
    order_id = f"O{state['next_order']}"
    state["next_order"] += 1
    state["orders"][order_id] = order
    state["cart"] = {}
    return {"order_id": order_id, **order}


def default_state() -> State:
    return {
        "products": {
            "P1": {"name": "Steel Kettle", "category": "kettle", "price": 34.99, "stock": 5},
            "P2": {"name": "Desk Lamp", "category": "lamp", "price": 27.9, "stock": 2},
        },
        "cart": {},
        "orders": {},
        "next_order": 1,
    }


_ID = {"type": "string", "description": "Product id from search_products"}
DOMAIN = Domain(
    name="shopping",
    role="You are a shopping assistant for an online store.",
    tools=(
        Tool(
            "search_products",
            "Find products by words in their name or category.",
            object_schema({"query": {"type": "string"}, "max_price": {"type": "number"}}, ["query"]),
            search_products,
        ),
        Tool(
            "add_to_cart",
            "Add a product to the cart.",
            object_schema(
                {"product_id": _ID, "quantity": {"type": "integer", "minimum": 1, "default": 1}},
                ["product_id"],
            ),
            add_to_cart,
        ),
        Tool("view_cart", "The cart's items and total.", object_schema({}), view_cart),
        Tool("checkout", "Order everything in the cart.", object_schema({}), checkout),
    ),
    default_state=default_state,
)
