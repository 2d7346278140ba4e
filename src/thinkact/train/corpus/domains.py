"""The pretraining corpus's twelve fixed domains: each a few tools with their requests, reasoning sentences,
results and answers, and some small talk. None shares a tool name or a phrasing with the bundled benchmark
(tests/test_pretrain.py checks).

Left out: the domains invented per conversation (`invented.py`).
"""

from __future__ import annotations

import random

from thinkact.data.words import invent_name
from thinkact.train.corpus.tools import Domain, Param, Tool


def _num(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high)


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "library",
        ("You help members of the city library.", "Library desk assistant."),
        (
            Tool(
                "find_book",
                "Look up a book by its author and report where it is shelved.",
                (Param("author", "person", "Full name of the author"),),
                (
                    "Do you have anything written by {author}?",
                    "I am looking for a book by {author}.",
                    "Which shelf holds the books of {author}?",
                ),
                "The member asks about books by {author}, so I search the catalogue for that author.",
                lambda rng, a: {
                    "author": a["author"],
                    "title": f"The {invent_name(rng)} Road",
                    "shelf": _num(rng, 1, 90),
                },
                "There is {title} by {author}, on shelf {shelf}.",
            ),
            Tool(
                "hold_book",
                "Put a book on hold for a member until a given date.",
                (
                    Param("title", "name", "Book title"),
                    Param("until", "date", "Last day of the hold, YYYY-MM-DD"),
                ),
                (
                    "Please keep {title} for me until {until}.",
                    "Could you hold the book {title} {until}?",
                ),
                "I need the title {title} and the last day; {until_reason} I place the hold.",
                lambda rng, a: {
                    "title": a["title"],
                    "until": a["until"],
                    "hold_id": f"H{_num(rng, 100, 999)}",
                },
                "Done: {title} is held for you until {until} (hold {hold_id}).",
            ),
        ),
        (("What are your opening hours?", "The library is open from 9:00 to 18:00 on weekdays."),),
    ),
    Domain(
        "restaurant",
        ("You reserve tables at restaurants.", "A dining concierge."),
        (
            Tool(
                "reserve_table",
                "Reserve a table at a restaurant for a number of guests on a day and time.",
                (
                    Param("restaurant", "name", "Restaurant name"),
                    Param("guests", "count", "Number of guests", low=1, high=12),
                    Param("day", "date", "YYYY-MM-DD"),
                    Param("time", "time", "HH:MM"),
                ),
                (
                    "Book {restaurant} for {guests} people {day} at {time}.",
                    "I want a table for {guests} at {restaurant}, {day}, {time} please.",
                    "Can you get us a table at {restaurant} {day} at {time}? We are {guests}.",
                ),
                "A table at {restaurant} for {guests} guests; {day_reason} The time is {time}.",
                lambda rng, a: {**a, "table": _num(rng, 1, 40), "confirmed": True},
                "Your table {table} at {restaurant} is booked for {guests} on {day} at {time}.",
            ),
            Tool(
                "menu_price",
                "The price of a dish at a restaurant.",
                (Param("restaurant", "name", "Restaurant name"), Param("dish", "thing", "Dish name")),
                ("How much is the {dish} at {restaurant}?", "What does {restaurant} charge for {dish}?"),
                "The user wants the price of {dish} at {restaurant}; I look it up.",
                lambda rng, a: {**a, "price": _num(rng, 4, 60)},
                "The {dish} at {restaurant} costs {price}.",
            ),
        ),
        (("Do you like cooking?", "I do not cook, but I can find you a good table."),),
    ),
    Domain(
        "fitness",
        ("You keep a training log.", "Fitness coach assistant."),
        (
            Tool(
                "log_run",
                "Record a run: distance in kilometres and the day it happened.",
                (Param("km", "count", "Distance", low=1, high=42), Param("day", "date", "YYYY-MM-DD")),
                ("I ran {km} km {day}, please log it.", "Add a run of {km} kilometres for {day}."),
                "A run of {km} km; {day_reason} I record it.",
                lambda rng, a: {**a, "total_km": a["km"] + _num(rng, 0, 200)},
                "Logged {km} km on {day}. Your total is now {total_km} km.",
            ),
            Tool(
                "count_steps",
                "Number of steps a person walked on a day.",
                (Param("person", "person", "Who"), Param("day", "date", "YYYY-MM-DD")),
                ("How many steps did {person} walk {day}?", "Steps of {person} {day}?"),
                "I need the steps of {person}; {day_reason} I ask the tracker.",
                lambda rng, a: {**a, "steps": _num(rng, 500, 25000)},
                "{person} walked {steps} steps on {day}.",
            ),
        ),
        (("Is stretching useful?", "Yes, a few minutes of stretching after a run helps recovery."),),
    ),
    Domain(
        "music",
        ("You control the music player.", "Music assistant."),
        (
            Tool(
                "play_album",
                "Start playing an album by an artist.",
                (Param("artist", "person", "Artist"), Param("album", "name", "Album title")),
                ("Play the album {album} by {artist}.", "Put on {album} from {artist}."),
                "The user wants {album} by {artist}; I start it.",
                lambda rng, a: {**a, "tracks": _num(rng, 6, 18), "playing": True},
                "Now playing {album} by {artist}, {tracks} tracks.",
            ),
            Tool(
                "set_volume",
                "Set the speaker volume from 0 to 100.",
                (Param("level", "count", "Volume level", low=0, high=100),),
                ("Set the volume to {level}.", "Volume {level} please."),
                "The requested level is {level}.",
                lambda rng, a: {"level": a["level"]},
                "The volume is now {level}.",
            ),
        ),
        (("What is your favourite song?", "I have no favourite, but I can play yours."),),
    ),
    Domain(
        "parking",
        ("You manage parking permits.", "Parking office assistant."),
        (
            Tool(
                "park_car",
                "Pay for parking in a zone for a number of hours on a day.",
                (
                    Param("zone", "name", "Zone name"),
                    Param("hours", "count", "Hours", low=1, high=10),
                    Param("day", "date", "YYYY-MM-DD"),
                ),
                (
                    "Pay {hours} hours of parking in zone {zone} {day}.",
                    "I need to park in {zone} for {hours} hours {day}.",
                ),
                "Parking in {zone} for {hours} hours; {day_reason}",
                lambda rng, a: {
                    **a,
                    "cost": a["hours"] * _num(rng, 1, 4),
                    "ticket": f"P{_num(rng, 1000, 9999)}",
                },
                "Ticket {ticket}: {hours} hours in {zone} on {day}, cost {cost}.",
            ),
        ),
        (("Is parking free on holidays?", "Most zones are free on public holidays."),),
    ),
    Domain(
        "garden",
        ("You look after a plant nursery's orders.", "Garden shop helper."),
        (
            Tool(
                "order_seeds",
                "Order packets of seeds of a plant variety.",
                (
                    Param("variety", "name", "Plant variety"),
                    Param("packets", "count", "Number of packets", low=1, high=20),
                ),
                ("Order {packets} packets of {variety} seeds.", "I would like {packets} packs of {variety}."),
                "{packets} packets of the variety {variety}.",
                lambda rng, a: {
                    **a,
                    "order": f"G{_num(rng, 100, 999)}",
                    "price": a["packets"] * _num(rng, 2, 5),
                },
                "Order {order}: {packets} packets of {variety} for {price}.",
            ),
            Tool(
                "water_plan",
                "How often a plant variety should be watered, in days.",
                (Param("variety", "name", "Plant variety"),),
                ("How often should I water {variety}?", "Watering schedule for {variety}?"),
                "The question is about watering {variety}; I check the care sheet.",
                lambda rng, a: {**a, "every_days": _num(rng, 1, 14)},
                "Water {variety} every {every_days} days.",
            ),
        ),
        (("Do plants like music?", "Some gardeners think so, but there is little proof."),),
    ),
    Domain(
        "pets",
        ("You run the pet clinic's front desk.", "Veterinary clinic assistant."),
        (
            Tool(
                "vet_visit",
                "Book a visit for a pet on a day and time.",
                (
                    Param("pet", "name", "Pet name"),
                    Param("day", "date", "YYYY-MM-DD"),
                    Param("time", "time", "HH:MM"),
                ),
                ("Can {pet} see the vet {day} at {time}?", "Book a checkup for {pet}, {day} at {time}."),
                "A visit for {pet}; {day_reason} At {time}.",
                lambda rng, a: {**a, "room": _num(rng, 1, 9)},
                "{pet} is booked on {day} at {time}, room {room}.",
            ),
            Tool(
                "pet_weight",
                "The last recorded weight of a pet in kilograms.",
                (Param("pet", "name", "Pet name"),),
                ("How heavy was {pet} last time?", "What does {pet} weigh?"),
                "I look up the record of {pet}.",
                lambda rng, a: {**a, "kg": _num(rng, 2, 45)},
                "{pet} weighed {kg} kg at the last visit.",
            ),
        ),
        (("Are cats better than dogs?", "Both make fine companions."),),
    ),
    Domain(
        "delivery",
        ("You track parcels.", "Courier service assistant."),
        (
            Tool(
                "track_parcel",
                "Status of a parcel by its code.",
                (Param("code", "name", "Parcel code"),),
                ("Where is my parcel {code}?", "Track parcel {code} for me."),
                "The parcel code is {code}; I look it up.",
                lambda rng, a: {
                    **a,
                    "status": rng.choice(("in transit", "delivered", "at the depot")),
                    "stop": invent_name(rng),
                },
                "Parcel {code} is {status}, last seen at {stop}.",
            ),
            Tool(
                "send_parcel",
                "Send a parcel of some weight to a person.",
                (
                    Param("recipient", "person", "Recipient"),
                    Param("kg", "count", "Weight in kg", low=1, high=30),
                ),
                ("Send a {kg} kg parcel to {recipient}.", "I want to ship {kg} kilos to {recipient}."),
                "A parcel of {kg} kg for {recipient}.",
                lambda rng, a: {**a, "code": invent_name(rng).upper()[:6], "fee": a["kg"] * _num(rng, 1, 3)},
                "Your parcel to {recipient} has code {code}; the fee is {fee}.",
            ),
        ),
        (("Do you deliver on Sundays?", "No, parcels move from Monday to Saturday."),),
    ),
    Domain(
        "cinema",
        ("You sell cinema tickets.", "Box office assistant."),
        (
            Tool(
                "buy_seats",
                "Buy seats for a film on a day.",
                (
                    Param("film", "name", "Film title"),
                    Param("seats", "count", "Number of seats", low=1, high=8),
                    Param("day", "date", "YYYY-MM-DD"),
                ),
                ("Get me {seats} seats for {film} {day}.", "{seats} tickets to {film}, {day}, please."),
                "{seats} seats for {film}; {day_reason}",
                lambda rng, a: {**a, "hall": _num(rng, 1, 12), "total": a["seats"] * _num(rng, 7, 15)},
                "You have {seats} seats for {film} on {day} in hall {hall}; total {total}.",
            ),
        ),
        (("Is popcorn included?", "Popcorn is sold separately at the counter."),),
    ),
    Domain(
        "home",
        ("You control a smart home.", "Home automation assistant."),
        (
            Tool(
                "set_heating",
                "Set the heating of a room to a temperature.",
                (
                    Param("room", "choice", "Room", choices=("kitchen", "bedroom", "hall", "office")),
                    Param("degrees", "count", "Target temperature", low=15, high=28),
                ),
                ("Heat the {room} to {degrees} degrees.", "Set the {room} at {degrees}."),
                "The {room} should reach {degrees} degrees.",
                lambda rng, a: {**a, "was": _num(rng, 12, 24)},
                "The {room} goes from {was} to {degrees} degrees.",
            ),
            Tool(
                "lights",
                "Switch the lights of a room on or off.",
                (
                    Param("room", "choice", "Room", choices=("kitchen", "bedroom", "hall", "office")),
                    Param("state", "choice", "on or off", choices=("on", "off")),
                ),
                ("Turn the {room} lights {state}.", "Lights {state} in the {room}."),
                "The {room} lights should be {state}.",
                lambda rng, a: {**a, "done": True},
                "The {room} lights are {state}.",
            ),
        ),
        (("Can you make coffee?", "Not yet; I only handle heating and lights."),),
    ),
    Domain(
        "school",
        ("You help a school office.", "School records assistant."),
        (
            Tool(
                "grade_of",
                "The grade a student got in a course.",
                (Param("student", "person", "Student"), Param("course", "name", "Course")),
                ("What grade did {student} get in {course}?", "Show me the {course} grade of {student}."),
                "I need the grade of {student} in {course}.",
                lambda rng, a: {**a, "grade": _num(rng, 40, 100)},
                "{student} got {grade} in {course}.",
            ),
            Tool(
                "book_room",
                "Book a classroom on a day for a number of hours.",
                (
                    Param("room", "name", "Room name"),
                    Param("day", "date", "YYYY-MM-DD"),
                    Param("hours", "count", "Hours", low=1, high=6),
                ),
                ("Reserve room {room} {day} for {hours} hours.", "I need {room} for {hours} hours {day}."),
                "Room {room} for {hours} hours; {day_reason}",
                lambda rng, a: {**a, "booking": f"R{_num(rng, 10, 99)}"},
                "Room {room} is yours on {day} for {hours} hours (booking {booking}).",
            ),
        ),
        (
            (
                "When do holidays start?",
                "The school calendar lists them; I can only book rooms and read grades.",
            ),
        ),
    ),
    Domain(
        "market",
        ("You price items at a farmers' market.", "Market stall assistant."),
        (
            Tool(
                "stall_price",
                "Price of one item at a market stall.",
                (Param("stall", "name", "Stall name"), Param("item", "thing", "Item")),
                ("How much is a {item} at the {stall} stall?", "Price of the {item} at {stall}?"),
                "The price of a {item} at {stall}.",
                lambda rng, a: {**a, "price": _num(rng, 1, 30)},
                "A {item} costs {price} at {stall}.",
            ),
        ),
        (("Is the market open in winter?", "It opens every Saturday, all year."),),
    ),
)
