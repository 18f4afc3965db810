"""Names in the book: companies, their ids and domains, and the CSMs and AEs who own them."""

from __future__ import annotations

import random
import re

CSMS = (
    "maya.chen@example.com",
    "jonas.weber@example.com",
    "aisha.okafor@example.com",
    "lucas.martin@example.com",
    "sofia.rossi@example.com",
    "daniel.kim@example.com",
)
AES = (
    "olivia.hart@example.com",
    "ravi.patel@example.com",
    "emma.larsen@example.com",
    "marco.silva@example.com",
)
_CLASSIC_NAMES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Corp",
    "Hooli",
    "Soylent",
    "Vandelay Industries",
    "Wonka Industries",
    "Stark Industries",
    "Tyrell Corp",
    "Cyberdyne Systems",
    "Wayne Enterprises",
    "Aperture Science",
    "Massive Dynamic",
    "Pied Piper",
    "Dunder Mifflin",
    "Sterling Cooper",
    "Oceanic Airlines",
    "Prestige Worldwide",
    "Gringotts",
)
_NAME_FIRST = (
    "Apex",
    "Beacon",
    "Blue",
    "Bright",
    "Cedar",
    "Copper",
    "Crest",
    "Delta",
    "Ember",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Helix",
    "Horizon",
    "Iron",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "North",
    "Nova",
    "Oak",
    "Orbit",
    "Pinnacle",
    "Polar",
    "Quantum",
    "Quartz",
    "Redwood",
    "River",
    "Sable",
    "Silver",
    "Summit",
    "Terra",
    "Tidal",
    "Vertex",
    "Willow",
    "Zenith",
)
_NAME_SECOND = (
    "Analytics",
    "Bank",
    "Bio",
    "Capital",
    "Logistics",
    "Health",
    "Foods",
    "Robotics",
    "Media",
    "Systems",
    "Works",
    "Dynamics",
    "Retail",
    "Energy",
    "Insurance",
    "Labs",
    "Networks",
    "Motors",
    "Travel",
    "Software",
    "Pharma",
    "Freight",
    "Telecom",
    "Studios",
    "Security",
    "Mobility",
    "Learning",
    "Realty",
    "Apparel",
    "Games",
)
_NAME_SUFFIX = ("", "", "", "", "Inc", "Corp", "Group", "Ltd", "GmbH", "LLC", "Co")
_TLD = {"GmbH": ".de", "Ltd": ".co.uk"}


def company_names(rng: random.Random, count: int) -> list[str]:
    """``count`` company names, a few of them classics; names and their slugs all differ."""
    classics = list(_CLASSIC_NAMES)
    rng.shuffle(classics)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        if classics and rng.random() < 0.08:
            name = classics.pop()
            key = name
        else:
            first, second = rng.choice(_NAME_FIRST), rng.choice(_NAME_SECOND)
            key = f"{first} {second}"
            suffix = rng.choice(_NAME_SUFFIX)
            name = f"{key} {suffix}" if suffix else key
            if key in seen and len(seen) >= len(_NAME_FIRST) * len(_NAME_SECOND) // 2:
                key = name = f"{key} {len(names) + 1}"  # a very big book: number the rest
        if key in seen or slug(name) in seen:
            continue
        seen.update((key, slug(name)))
        names.append(name)
    return names


def slug(name: str) -> str:
    """The account id made from a company name: lower case, words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def domain(name: str, account_id: str) -> str:
    """The company's web domain: its id without dashes, under its country's TLD."""
    return account_id.replace("-", "") + _TLD.get(name.rsplit(" ", 1)[-1], ".com")
