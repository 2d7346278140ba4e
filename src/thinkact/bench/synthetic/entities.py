"""Entity pools the scenarios draw from; every fourth entry of each pool is reserved for the test splits.

Left out: anything fetched from outside; all names are made up or common and fixed here.
"""

from __future__ import annotations


def _rows(table: str) -> list[list[str]]:
    """The cells of a `a | b | c` table, one list per non-empty line."""
    return [[cell.strip() for cell in line.split("|")] for line in table.strip().splitlines()]


CITIES: tuple[tuple[str, str, int], ...] = tuple(
    (name, country, int(mean_c))
    for name, country, mean_c in _rows(
        """
Oslo | Norway | 4
Paris | France | 12
Lima | Peru | 19
Nairobi | Kenya | 18
Madrid | Spain | 15
Tokyo | Japan | 14
Cairo | Egypt | 22
Dublin | Ireland | 9
Toronto | Canada | 7
Sydney | Australia | 18
Berlin | Germany | 10
Lisbon | Portugal | 17
Chicago | USA | 10
Mumbai | India | 27
Seoul | South Korea | 12
Vienna | Austria | 10
Helsinki | Finland | 5
Denver | USA | 10
Athens | Greece | 18
Bogota | Colombia | 14
Rome | Italy | 15
Warsaw | Poland | 8
Hanoi | Vietnam | 24
Prague | Czechia | 9
Boston | USA | 11
Santiago | Chile | 14
Zurich | Switzerland | 9
Accra | Ghana | 27
Reykjavik | Iceland | 4
Montreal | Canada | 6
Istanbul | Turkey | 14
Perth | Australia | 19
Marseille | France | 15
Osaka | Japan | 16
Quito | Ecuador | 14
Glasgow | UK | 9
"""
    )
)
"""(city, country, mean temperature in °C)"""

FIRST_NAMES: tuple[str, ...] = (
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoe",
    "Marco",
    "Leila",
    "Tomas",
    "Priya",
    "Oscar",
    "Nadia",
    "Felix",
    "Ruth",
    "Kenji",
    "Alma",
    "Ivan",
)
LAST_NAMES: tuple[str, ...] = (
    "Silva",
    "Brown",
    "Novak",
    "Kim",
    "Okafor",
    "Meyer",
    "Rossi",
    "Dubois",
    "Haddad",
    "Larsen",
    "Costa",
    "Ito",
    "Nowak",
    "Garcia",
    "Quist",
    "Fischer",
    "Moreau",
    "Sato",
    "Ahmed",
    "Berg",
    "Lopez",
    "Walsh",
    "Park",
    "Keller",
)

MEETINGS: tuple[str, ...] = (
    "Team sync",
    "Dentist",
    "Lunch with Sam",
    "Project review",
    "Yoga class",
    "Budget meeting",
    "Doctor visit",
    "Coffee chat",
    "Design review",
    "Parent evening",
    "Gym session",
    "Client call",
    "1:1 with manager",
    "Book club",
    "Haircut",
    "Sprint planning",
    "Piano lesson",
    "Car service",
    "Interview",
    "Standup",
)

PRODUCTS: tuple[tuple[str, str, float], ...] = tuple(
    (category, name, float(price))
    for category, name, price in _rows(
        """
headphones | Pulse Wireless Headphones | 79.99
headphones | Studio Pro Headphones | 149.0
headphones | Budget Earbuds | 19.5
headphones | NoiseAway Headphones | 229.0
backpack | Trail 30L Backpack | 64.9
backpack | City Laptop Backpack | 89.0
backpack | Mini Daypack | 29.99
backpack | Roll-top Backpack | 74.5
kettle | Steel Kettle | 34.99
kettle | Glass Kettle | 42.0
kettle | Travel Kettle | 24.5
kettle | Smart Kettle | 99.0
lamp | Desk Lamp | 27.9
lamp | Floor Lamp | 119.0
lamp | Clip Lamp | 15.49
lamp | Reading Lamp | 39.9
mug | Ceramic Mug | 9.5
mug | Travel Mug | 18.0
mug | Espresso Cup Set | 22.75
mug | Thermal Mug | 25.0
keyboard | Compact Keyboard | 49.0
keyboard | Mechanical Keyboard | 119.99
keyboard | Wireless Keyboard | 39.5
keyboard | Ergonomic Keyboard | 89.9
umbrella | Folding Umbrella | 16.99
umbrella | Golf Umbrella | 32.0
umbrella | Kids Umbrella | 12.5
umbrella | Storm Umbrella | 45.0
"""
    )
)
"""(category, product name, price)"""

ACCOUNTS: tuple[str, ...] = (
    "holiday",
    "emergency",
    "joint",
    "business",
    "house",
    "car",
    "education",
    "gifts",
)

MERCHANTS: tuple[str, ...] = (
    "Supermarket",
    "Coffee shop",
    "Bookstore",
    "Pharmacy",
    "Train ticket",
    "Electric bill",
    "Restaurant",
    "Gym membership",
    "Cinema",
    "Bakery",
    "Phone bill",
    "Petrol station",
    "Hardware store",
    "Florist",
    "Streaming service",
    "Taxi",
)
CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP", "CHF")

MESSAGES: tuple[str, ...] = (
    "I'm running 10 minutes late",
    "See you at the station at 6",
    "Happy birthday",
    "Please call me back",
    "Dinner is at 8 tonight",
    "I left the keys under the mat",
    "The meeting moved to Thursday",
    "Thanks for yesterday",
    "Don't forget the tickets",
    "I'll pick up the kids today",
    "On my way",
    "Good luck with the exam",
)
