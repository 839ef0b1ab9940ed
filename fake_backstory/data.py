"""Deterministic, realistic (and deliberately awkward) Enriched Contacts data.

Every (seed, day, index) gives the same contact. The identity of a contact (first name, last
name, account, originating user) is a bijective scramble of its ordinal, so no two contacts in
any realistic window share it; emails embed the day and index, so they are unique too (about
1 in 15 contacts has no email).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

API_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "department",
    "seniority",
    "country",
    "state",
    "account_name",
    "account_type",
    "account_domain",
    "account_crm_id",
    "source_peopleai_id",
    "response_activity_id",
    "source_email",
    "from_cc",
    "total_inbound",
    "total_inbound_30d",
    "total_outbound",
    "total_outbound_30d",
    "total_meetings",
    "total_meetings_30d",
    "total_time_spent",
    "total_time_spent_30d",
)
EXTRA_FIELDS: tuple[str, ...] = ("linkedin_url", "enrichment_score")
FILTER_PARAMS = ("include_historical", "include_existing", "is_sourced_by_people_ai")

_FIRST = (
    ("José", "jose"), ("Zoë", "zoe"), ("Łukasz", "lukasz"), ("Søren", "soren"),
    ("François", "francois"), ("Björn", "bjorn"), ("Ana", "ana"), ("Priya", "priya"),
    ("Wei", "wei"), ("Aoife", "aoife"), ("Mateus", "mateus"), ("Chloé", "chloe"),
    ("Jürgen", "jurgen"), ("Noémie", "noemie"), ("Ólafur", "olafur"), ("Siobhán", "siobhan"),
    ("Dmitri", "dmitri"), ("Ayşe", "ayse"), ("Thảo", "thao"), ("太郎", "taro"),
    ("花子", "hanako"), ("Mary-Kate", "mary-kate"), ("Jean-Luc", "jean-luc"), ("John", "john"),
    ("Emily", "emily"), ("Michael", "michael"), ("Sarah", "sarah"), ("David", "david"),
    ("Laura", "laura"), ("James", "james"), ("Olivia", "olivia"), ("Carlos", "carlos"),
    ("María", "maria"), ("Lars", "lars"), ("Ingrid", "ingrid"), ("Kwame", "kwame"),
    ("Fatima", "fatima"), ("Raj", "raj"), ("Mei", "mei"), ("Hiroshi", "hiroshi"),
    ("Yuki", "yuki"), ("Émilie", "emilie"), ("Grzegorz", "grzegorz"),
    ("Małgorzata", "malgorzata"), ("Tomáš", "tomas"), ("Zsófia", "zsofia"),
    ("Ærin", "aerin"), ("Ngozi", "ngozi"),
)  # fmt: skip
_LAST = (
    ("García", "garcia"), ("Müller", "muller"), ("O'Brien", "obrien"), ("Nguyễn", "nguyen"),
    ("山田", "yamada"), ("Kowalski", "kowalski"), ("Wiśniewska", "wisniewska"),
    ("Ærøe", "aeroe"), ("Jørgensen", "jorgensen"), ("Smith", "smith"), ("Johnson", "johnson"),
    ("van der Berg", "vanderberg"), ("De la Cruz", "delacruz"), ("Dubois", "dubois"),
    ("Schröder", "schroder"), ("Rossi", "rossi"), ("Silva", "silva"), ("Santos", "santos"),
    ("Okafor", "okafor"), ("Patel", "patel"), ("Shah", "shah"), ("Chen", "chen"),
    ("Wang", "wang"), ("Kim", "kim"), ("Park", "park"), ("Sato", "sato"), ("田中", "tanaka"),
    ("Ivanova", "ivanova"), ("Popescu", "popescu"), ("Horváth", "horvath"), ("Novák", "novak"),
    ("Østergaard", "ostergaard"), ("Åberg", "aberg"), ("Björklund", "bjorklund"),
    ("Fernández", "fernandez"), ("López", "lopez"), ("Martin", "martin"), ("Brown", "brown"),
    ("Taylor", "taylor"), ("Wilson", "wilson"), ("Murphy", "murphy"), ("Kelly", "kelly"),
    ("Hernández", "hernandez"), ("Yılmaz", "yilmaz"), ("Öztürk", "ozturk"),  # noqa: RUF001
    ("Al-Sayed", "al-sayed"), ("Smith-Jones", "smith-jones"), ("Łęcka", "lecka"),
)  # fmt: skip
_ACCOUNT_STEMS = (
    ("Acme", "acme"), ("Ærøskøbing Fisk", "aeroskobing-fisk"), ("山田", "yamada"),
    ("Smith, Jones", "smith-jones"), ("Nordlicht", "nordlicht"), ("Café Olé", "cafe-ole"),
    ("O'Reilly", "oreilly"), ("Blue Harbor", "blue-harbor"), ("Zürich Re", "zurich-re"),
    ("Kraków Data", "krakow-data"), ("São Paulo Têxtil", "sao-paulo-textil"),
    ("Initech", "initech"), ("Globex", "globex"), ("Umbrella", "umbrella"), ("Hooli", "hooli"),
    ("Stark", "stark"), ("Wayne", "wayne"), ("Vandelay", "vandelay"), ("Tyrell", "tyrell"),
    ("Cyberdyne", "cyberdyne"), ("Soylent", "soylent"), ("Wonka", "wonka"),
    ("Oceanic", "oceanic"), ("Aperture", "aperture"), ("Black Mesa", "black-mesa"),
    ("Massive Dynamic", "massive-dynamic"), ("Dunder Mifflin", "dunder-mifflin"),
    ("Pied Piper", "pied-piper"), ("Bluth", "bluth"), ("Sterling Cooper", "sterling-cooper"),
)  # fmt: skip
_ACCOUNT_SUFFIXES = (
    ("Inc.", "inc"), ("Corp", "corp"), ("GmbH", "gmbh"), ("ApS", "aps"), ("Ltd", "ltd"),
    ("S.A.", "sa"), ("Holdings, Inc.", "holdings"), ("K.K.", "kk"), ("AB", "ab"),
    ("sp. z o.o.", "sp"), ("LLC", "llc"), ("Group", "group"), ('Labs "Beta"', "labs"),
    ("& Co.", "co"), ("Systems", "systems"), ("Technologies", "tech"),
    ("Logistics", "logistics"), ("Analytics", "analytics"), ("Partners", "partners"),
    ("Software", "software"),
)  # fmt: skip
_ACCOUNT_TYPES = ("Customer", "Prospect", "Partner", None, "Reseller", "Customer", "Prospect")
_SOURCE_USERS = (
    ("Priya", "Shah"), ("Tom", "Becker"), ("Alice", "Nguyen"), ("Marco", "Bianchi"),
    ("Hannah", "Lee"), ("Omar", "Haddad"), ("Greta", "Lindqvist"), ("Ken", "Watanabe"),
    ("Lucy", "Adams"), ("Pavel", "Novak"), ("Sofia", "Costa"), ("Ben", "Carter"),
    ("Nia", "Okoye"), ("Felix", "Wagner"), ("Ines", "Moreau"), ("Sam", "Rivera"),
    ("Yara", "Haddad"), ("Leo", "Fischer"), ("Mia", "Jensen"), ("Dev", "Kapoor"),
)  # fmt: skip
_TITLES: tuple[tuple[str, str | None, str | None], ...] = (
    ('VP, Sales "EMEA"', "Sales", "VP"),
    ("Chief Executive Officer", "Executive", "C-Level"),
    ("CTO", "Engineering", "C-Level"),
    ("Head of Engineering", "Engineering", "Director"),
    ("Senior Software Engineer", "Engineering", "Individual Contributor"),
    ("Account Executive", "Sales", "Individual Contributor"),
    ("Directeur Général", "Executive", "C-Level"),
    ("Marketing Manager", "Marketing", "Manager"),
    ("Procurement Lead", "Operations", "Manager"),
    ("Geschäftsführer", "Executive", "C-Level"),
    ("Data Scientist", "Engineering", "Individual Contributor"),
    ("Director, Customer Success", "Customer Success", "Director"),
    ("Office Manager", None, "Manager"),
    ("Consultant", None, None),
    ("Intern", "Other", "Entry"),
    ("営業部長", "Sales", "Director"),
    ("IT Administrator", "IT", "Individual Contributor"),
    ("Chief Revenue Officer (CRO)", "Sales", "C-Level"),
    ("Partner; Legal", "Legal", "Partner"),
    ('"Growth Hacker"', "Marketing", "Individual Contributor"),
)
_COUNTRY_WEIGHTS = (
    ("United States", 45), ("United Kingdom", 9), ("Germany", 8), ("France", 6),
    ("Japan", 5), ("Denmark", 4), ("Poland", 5), ("Brazil", 5), ("Canada", 5),
    ("India", 4), ("Côte d'Ivoire", 1), (None, 3),
)  # fmt: skip
_COUNTRY_TABLE: tuple[str | None, ...] = tuple(
    name for name, weight in _COUNTRY_WEIGHTS for _ in range(weight)
)
_US_STATES = (
    "New York", "California", "Texas", "Washington", "Massachusetts", "Illinois", "Florida",
    "Georgia", "Colorado", "North Carolina", "Oregon", "New Jersey", "Pennsylvania",
    "Virginia", "District of Columbia",
)  # fmt: skip
_PHONE_PREFIX = {
    "United States": "+1", "Canada": "+1", "United Kingdom": "+44", "Germany": "+49",
    "France": "+33", "Japan": "+81", "Denmark": "+45", "Poland": "+48", "Brazil": "+55",
    "India": "+91", "Côte d'Ivoire": "+225",
}  # fmt: skip
_REGIONS = ("EMEA & APAC", "North America", "DACH / Nordics")
_DIGITS3 = tuple(f"{n:03d}" for n in range(1000))
_DIGITS4 = tuple(f"{n:04d}" for n in range(10_000))
# Skewed activity counters, indexed by 10 random bits (most contacts see little activity).
_INBOUND = tuple(int((n / 1024) ** 2 * 400) for n in range(1024))
_OUTBOUND = tuple(int((n / 1024) ** 2 * 500) for n in range(1024))
_MEETINGS = tuple(int((n / 1024) ** 3 * 40) for n in range(1024))

_N_ACCOUNTS = len(_ACCOUNT_STEMS) * len(_ACCOUNT_SUFFIXES)
_IDENTITY_SPACE = len(_FIRST) * len(_LAST) * _N_ACCOUNTS * len(_SOURCE_USERS)
_BASE_ORDINAL = date(2000, 1, 1).toordinal()


def _coprime_step(space: int) -> int:
    """Return a large multiplier coprime to ``space`` (makes the scramble a bijection)."""
    step = 1_000_003
    while math.gcd(step, space) != 1:
        step += 2
    return step


_STEP = _coprime_step(_IDENTITY_SPACE)


def _b36(value: int, width: int) -> str:
    """Encode ``value`` in upper-case base 36, left-padded to ``width``."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    for _ in range(width):
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out


@dataclass(frozen=True)
class _Account:
    name: str
    domain: str
    crm_id: str
    type: str | None


def _build_accounts() -> tuple[_Account, ...]:
    """All accounts: every stem combined with every suffix."""
    accounts = []
    for idx in range(_N_ACCOUNTS):
        stem, stem_slug = _ACCOUNT_STEMS[idx % len(_ACCOUNT_STEMS)]
        suffix, suffix_slug = _ACCOUNT_SUFFIXES[idx // len(_ACCOUNT_STEMS)]
        accounts.append(
            _Account(
                name=f"{stem} {suffix}",
                domain=f"{stem_slug}-{suffix_slug}.example",
                crm_id=f"0015g00000{_b36(idx * 7919 % 36**5, 5)}AAB",
                type=_ACCOUNT_TYPES[idx % len(_ACCOUNT_TYPES)],
            )
        )
    return tuple(accounts)


_ACCOUNTS = _build_accounts()
# Originating (internal) users: (Backstory id, email); ids look like 24-hex object ids.
_SOURCES = tuple(
    (
        hashlib.sha1(f"{first} {last}".encode(), usedforsecurity=False).hexdigest()[:24],
        f"{first.lower()}.{last.lower()}@ourco.example",
    )
    for first, last in _SOURCE_USERS
)


class Contact(NamedTuple):
    """One generated contact: the API record plus attributes used only for filtering."""

    record: dict[str, Any]
    historical: bool
    existing: bool
    sourced: bool


@dataclass(frozen=True)
class ContactFilter:
    """A job's record filter, built from the posted job parameters."""

    include_historical: bool = True
    include_existing: bool = True
    is_sourced_by_people_ai: bool = False
    country: str | None = None
    state: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ContactFilter:
        """Build from job parameters; omitted booleans take the API defaults."""
        return cls(
            include_historical=bool(params.get("include_historical", True)),
            include_existing=bool(params.get("include_existing", True)),
            is_sourced_by_people_ai=bool(params.get("is_sourced_by_people_ai", False)),
            country=params.get("country"),
            state=params.get("state"),
        )

    def accepts(self, contact: Contact) -> bool:
        """Whether ``contact`` belongs in an export with this filter."""
        if contact.historical and not self.include_historical:
            return False
        if contact.existing and not self.include_existing:
            return False
        if self.is_sourced_by_people_ai and not contact.sourced:
            return False
        record = contact.record
        if self.country is not None and record["country"] != self.country:
            return False
        return self.state is None or record["state"] == self.state


def generate_day(day: date, count: int, seed: int, extra_fields: bool = False) -> list[Contact]:
    """Generate the ``count`` contacts of ``day`` (deterministic in seed, day and index)."""
    rng = random.Random(seed * 1_000_003 + day.toordinal())
    rand = rng.random
    bits = rng.getrandbits
    stamp = day.strftime("%Y%m%d")
    base = (day.toordinal() - _BASE_ORDINAL) * count
    n_first, n_last, n_acc = len(_FIRST), len(_LAST), _N_ACCOUNTS
    n_titles, n_countries, n_states = len(_TITLES), len(_COUNTRY_TABLE), len(_US_STATES)
    out: list[Contact] = []
    for i in range(count):
        x = ((base + i) * _STEP + seed * 104_729) % _IDENTITY_SPACE
        x, f_idx = divmod(x, n_first)
        x, l_idx = divmod(x, n_last)
        s_idx, a_idx = divmod(x, n_acc)
        first, first_slug = _FIRST[f_idx]
        last, last_slug = _LAST[l_idx]
        account = _ACCOUNTS[a_idx]
        source_id, source_email = _SOURCES[s_idx]
        historical = rand() < 0.3
        existing = rand() < 0.4
        sourced = rand() < 0.5

        r = rand()
        if r < 1 / 15:
            email = None
        else:
            local = f"{first_slug}.{last_slug}.{stamp}.{i}"
            if r < 0.1:
                local = local.upper()
            elif r < 0.25:
                local = local.title()
            email = f"{local}@{account.domain}"

        title: str | None
        title, department, seniority = _TITLES[int(rand() * n_titles)]
        r = rand()
        if r < 0.03:
            title = None
        elif r < 0.055:
            title = f"{title}\n{_REGIONS[int(r * 1000) % len(_REGIONS)]}"

        country = _COUNTRY_TABLE[int(rand() * n_countries)]
        state = None
        if country == "United States" and rand() < 0.92:
            state = _US_STATES[int(rand() * n_states)]
        phone = None
        if rand() < 0.7:
            digits = bits(24) % 10_000_000
            prefix = _PHONE_PREFIX.get(country or "", "+1")
            phone = f"{prefix} {_DIGITS3[digits // 10_000]}-555-{_DIGITS4[digits % 10_000]}"
            if digits % 9 == 0:
                phone += f" ext. {digits % 97}"

        inbound = _INBOUND[bits(10)]
        outbound = _OUTBOUND[bits(10)]
        meetings = _MEETINGS[bits(10)]
        in_30 = inbound * bits(8) * 3 // 2560
        out_30 = outbound * bits(8) * 3 // 2560
        meet_30 = meetings * bits(8) * 3 // 2560
        spent = inbound * 45 + outbound * 120 + meetings * 1800
        spent_30 = in_30 * 45 + out_30 * 120 + meet_30 * 1800

        record: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": phone,
            "job_title": title,
            "department": department,
            "seniority": seniority,
            "country": country,
            "state": state,
            "account_name": account.name,
            "account_type": None if historical else account.type,
            "account_domain": account.domain,
            "account_crm_id": None if historical else account.crm_id,
            "source_peopleai_id": source_id,
            "response_activity_id": "00U5g" + hex(bits(48) | 1 << 48)[3:] if inbound else None,
            "source_email": source_email,
            "from_cc": rand() < 0.2,
            "total_inbound": inbound,
            "total_inbound_30d": in_30,
            "total_outbound": outbound,
            "total_outbound_30d": out_30,
            "total_meetings": meetings,
            "total_meetings_30d": meet_30,
            "total_time_spent": spent,
            "total_time_spent_30d": spent_30,
        }
        if extra_fields:
            record["linkedin_url"] = f"https://www.linkedin.com/in/{first_slug}-{last_slug}-{i}"
            record["enrichment_score"] = round(rand(), 3)
        out.append(Contact(record, historical, existing, sourced))
    return out


def iter_days(start: date, end: date, last_day: date | None) -> Iterator[date]:
    """Days of the window ``start..end`` that can hold data (none after ``last_day``)."""
    if last_day is not None:
        end = min(end, last_day)
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def iter_records(
    start: date,
    end: date,
    contact_filter: ContactFilter,
    *,
    contacts_per_day: int,
    seed: int,
    data_last_day: date | None = None,
    extra_fields: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield the API records of a window in export order (day, then index)."""
    accepts = contact_filter.accepts
    for day in iter_days(start, end, data_last_day):
        for contact in generate_day(day, contacts_per_day, seed, extra_fields):
            if accepts(contact):
                yield contact.record
