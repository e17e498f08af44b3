"""A deterministic synthetic traffic history for the demo and the benchmarks.

Visitors arrive over several weeks through realistic channels (search, social,
email, paid campaigns with click ids, referrals, direct), come back in several
sessions, some identify themselves, hit MQL/SQL milestones and convert with
revenue. The same seed gives the same history, so demo runs are comparable.

With `crm=True` (the demo's traffic) the history also has what the whole customer journey
brings: identify calls carry the person's e-mail (the API hashes it and never stores it), some
identified people come back on a second device (a phone with its own visitor id that identifies
as the same user), and `crm_deals` gives the CRM's closed deals for some of those people, matched
by the SHA-256 of the address only, plus a few deals of people the site never saw. The extra
draws come from streams of their own, so the clicks-only history of a seed stays as it was.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

SITE = "https://shop.example.com"
PAGES = ["/", "/pricing", "/features", "/blog/attribution-101", "/blog/markov-chains", "/docs", "/signup", "/contact"]

# (weight, how a visit from this source looks: properties merged into the landing page_view)
SOURCES: list[tuple[float, dict]] = [
    (14, {"referrer": "https://www.google.com/"}),
    (4, {"referrer": "https://www.bing.com/"}),
    (3, {"referrer": "https://duckduckgo.com/"}),
    (10, {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand-search", "gclid": "CjwK{n}"}),
    (5, {"gclid": "EAIa{n}"}),  # auto-tagged Google Ads click, no UTMs
    (3, {"utm_source": "bing", "utm_medium": "cpc", "utm_campaign": "generic-search", "msclkid": "m{n}"}),
    (6, {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": "retargeting-q4", "fbclid": "fb{n}"}),
    (6, {"referrer": "https://www.facebook.com/"}),
    (4, {"referrer": "https://www.linkedin.com/feed/"}),
    (3, {"referrer": "https://t.co/abc"}),
    (3, {"utm_source": "youtube", "utm_medium": "video", "utm_campaign": "product-tour"}),
    (10, {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "weekly-digest"}),
    (4, {"utm_source": "crm", "utm_medium": "email", "utm_campaign": "nurture-sequence"}),
    (3, {"utm_source": "criteo", "utm_medium": "display", "utm_campaign": "prospecting"}),
    (2, {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "shopping-feed"}),
    (4, {"referrer": "https://news.ycombinator.com/item?id=1"}),
    (3, {"referrer": "https://blog.partner.io/review"}),
    (2, {"utm_source": "partnerstack", "utm_medium": "affiliate", "utm_campaign": "partners"}),
    (1, {"utm_source": "sms", "utm_medium": "sms", "utm_campaign": "flash-sale"}),
    (14, {}),  # direct
]


# what the paid sources above cost per day (USD, before ±25 % daily noise): the demo's spend upload
DAILY_SPEND: list[tuple[str, str, str, str, float]] = [
    ("paid_search", "google", "cpc", "brand-search", 30.0),
    ("paid_search", "bing", "cpc", "generic-search", 14.0),
    ("paid_shopping", "google", "cpc", "shopping-feed", 12.0),
    ("paid_social", "facebook", "paid_social", "retargeting-q4", 35.0),
    ("display", "criteo", "display", "prospecting", 25.0),
    ("affiliate", "partnerstack", "affiliate", "partners", 6.0),
]


def spend(days: int = 45, end: datetime | None = None, seed: int = 7) -> list[dict]:
    """Daily spend rows (the `POST /api/v1/spend` shape) for the paid campaigns of the `days` days before `end`."""
    rng = random.Random(seed)
    delivery = random.Random(seed + 1)  # its own stream: the amounts stay those of earlier demos
    last = (end or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    rows = []
    for n in range(days, 0, -1):
        day = (last - timedelta(days=n)).isoformat()
        for channel, source, medium, campaign, base in DAILY_SPEND:
            amount = round(base * rng.uniform(0.75, 1.25), 2)
            impressions = round(amount / delivery.uniform(4, 12) * 1000)  # a CPM of $4-12
            rows.append(
                {
                    "date": day,
                    "channel": channel,
                    "utm_source": source,
                    "utm_medium": medium,
                    "utm_campaign": campaign,
                    "amount": amount,
                    "currency": "USD",
                    "impressions": impressions,
                    "clicks": round(impressions * delivery.uniform(0.005, 0.03)),
                }
            )
    return rows


# ads seen, not clicked (ad_impressions): (weight, UTMs, placements); the channel rules make them
# display, paid_social and paid_video
AD_IMPRESSIONS: list[tuple[float, dict, tuple[str, ...]]] = [
    (5, {"utm_source": "criteo", "utm_medium": "display", "utm_campaign": "prospecting"}, ("sidebar", "top_banner")),
    (4, {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": "retargeting-q4"}, ("feed", "stories")),
    (3, {"utm_source": "youtube", "utm_medium": "cpm", "utm_campaign": "product-tour"}, ("preroll",)),
]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"]


@dataclass
class Traffic:
    events: list[dict] = field(default_factory=list)
    conversions: list[dict] = field(default_factory=list)
    invalid_events: list[dict] = field(default_factory=list)
    spend: list[dict] = field(default_factory=list)  # POST /api/v1/spend rows
    people: dict[str, tuple[str, str]] = field(default_factory=dict)  # user id → (e-mail, last seen), with crm
    devices: int = 0  # people seen on a second device, with crm
    offline: list[dict] = field(default_factory=list)  # POST /api/v1/conversions/batch rows (crm_deals)
    # POST /api/v1/conversions by visitor_id + timestamp, no page of the site: view-through
    # purchases (ad_impressions) and B2B deals (companies)
    visitor_conversions: list[dict] = field(default_factory=list)
    impressions: int = 0  # impression events, with ad_impressions
    view_through: int = 0  # people who saw an ad and bought without a visit, with ad_impressions
    companies: int = 0  # with companies
    deals: int = 0  # with companies


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _land(props: dict, landing: dict, n) -> None:
    """Make `props` (a page_view's) the landing page of a visit from `landing` (a SOURCES entry):
    its UTMs and click id, numbered `n`, in the properties and in the URL's query."""
    props.update({k: v.format(n=n) for k, v in landing.items()})
    if "utm_source" in props or any(k.endswith("clid") for k in props):
        query = "&".join(f"{k}={props[k]}" for k in props if k.startswith("utm_") or k.endswith("clid"))
        props["url"] = props["url"] + "?" + query


def generate(
    visitors: int = 3000,
    days: float = 45,
    seed: int = 7,
    end: datetime | None = None,
    prefix: str = "demo",
    crm: bool = False,
) -> Traffic:
    """Generate `visitors` visitors' histories ending at `end` (default: the start of this hour).

    Ids (events, visitors, users) start with `prefix`, so two histories with different
    prefixes never collide and the same prefix and seed give the same ids."""
    rng = random.Random(seed)
    end = end or datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    weights = [w for w, _ in SOURCES]
    devices = random.Random(seed + 2)  # its own stream: the clicks-only history stays the same
    traffic = Traffic()
    n = 0
    for v in range(visitors):
        home_id = f"vis_{prefix}{v:06d}"
        user_id = f"user_{prefix}{v:06d}" if rng.random() < 0.35 else None
        intent = rng.random()  # some visitors are simply more likely to go far
        t = start + timedelta(seconds=rng.uniform(0, days * 86400 * 0.85))
        sessions = 1 + min(int(rng.expovariate(0.6)), 6)
        # with crm, some identified people use a phone for every other visit, and identify there too
        phone = crm and user_id is not None and sessions > 1 and devices.random() < 0.4
        traffic.devices += phone
        milestones_done: set[str] = set()
        for s in range(sessions):
            if t >= end:
                break
            visitor_id = f"{home_id}p" if phone and s % 2 == 1 else home_id
            _, landing = rng.choices(SOURCES, weights=weights)[0]
            pages = 1 + min(int(rng.expovariate(0.7)), 5)
            for p in range(pages):
                n += 1
                props = {"url": SITE + rng.choice(PAGES), "title": "Example Shop"}
                if p == 0:
                    _land(props, landing, n)
                traffic.events.append(
                    {
                        "event_id": f"{prefix}-{n}",
                        "event_type": "page_view",
                        "visitor_id": visitor_id,
                        "timestamp": _iso(t),
                        "properties": props,
                    }
                )
                t += timedelta(seconds=rng.uniform(20, 240))
            if user_id and (s == 0 or (phone and s == 1)):
                n += 1
                traits = {"traits": {"email": f"{user_id.removeprefix('user_')}@people.example"}} if crm else {}
                traffic.events.append(
                    {
                        "event_id": f"{prefix}-{n}",
                        "event_type": "identify",
                        "visitor_id": visitor_id,
                        "user_id": user_id,
                        "timestamp": _iso(t),
                        "properties": {"plan": "trial", **traits},
                    }
                )
            for milestone, p_hit in (("mql", 0.25 + 0.3 * intent), ("sql", 0.15 + 0.3 * intent)):
                if (
                    milestone not in milestones_done
                    and (milestone == "mql" or "mql" in milestones_done)
                    and rng.random() < p_hit / sessions
                ):
                    n += 1
                    milestones_done.add(milestone)
                    traffic.events.append(
                        {
                            "event_id": f"{prefix}-{n}",
                            "event_type": milestone,
                            "visitor_id": visitor_id,
                            "user_id": user_id,
                            "timestamp": _iso(t),
                            "properties": {},
                        }
                    )
            if s == sessions - 1 and rng.random() < 0.08 + 0.25 * intent * (1 + len(milestones_done)) / 3:
                if t < end:
                    n += 1
                    revenue = round(rng.choice([29, 49, 99, 199, 499]) * (1 + rng.random() * 0.2), 2)
                    # the purchase is an event; the conversion points at it by event_id (stable across runs)
                    traffic.events.append(
                        {
                            "event_id": f"{prefix}-{n}",
                            "event_type": "purchase",
                            "visitor_id": visitor_id,
                            "user_id": user_id,
                            "timestamp": _iso(t),
                            "properties": {"url": SITE + "/checkout/thank-you", "revenue": revenue},
                        }
                    )
                    traffic.conversions.append(
                        {
                            "event_id": f"{prefix}-{n}",
                            "conversion_type": "purchase",
                            "revenue": revenue,
                            "currency": "USD",
                        }
                    )
            if crm and user_id:
                traffic.people[user_id] = (f"{user_id.removeprefix('user_')}@people.example", _iso(t))
            t += timedelta(hours=rng.expovariate(1 / 60))
    traffic.invalid_events = [
        {"event_type": "page view!", "visitor_id": "vis_bad1", "properties": {}},  # not a slug
        {"event_type": "page_view", "properties": {"url": SITE}},  # no visitor
        {"event_type": "page_view", "visitor_id": "vis_bad2", "timestamp": "yesterday"},  # bad timestamp
    ]
    return traffic


def crm_deals(traffic: Traffic, end: datetime, seed: int = 7, share: float = 0.2, strangers: int = 4) -> list[dict]:
    """The CRM's closed deals (`POST /api/v1/conversions/batch` rows) for about `share` of the
    people `generate(crm=True)` made: each a few days after the person was last seen (before
    `end`), named by the SHA-256 of the address only, as a CRM export for ad platforms is; and
    `strangers` deals of people the site never saw (kept, reported unmatched)."""
    from mbuzz.identity import hash_email

    rng = random.Random(seed + 3)
    rows = []
    for user_id, (email, last_seen) in traffic.people.items():
        if rng.random() >= share:
            continue
        closed = datetime.fromisoformat(last_seen.replace("Z", "+00:00")) + timedelta(days=rng.uniform(0.5, 5))
        rows.append(
            {
                "external_id": f"crm-{user_id.removeprefix('user_')}",
                "conversion_type": "closed_won",
                "timestamp": _iso(min(closed, end - timedelta(minutes=1))),
                "email_sha256": hash_email(email),
                "revenue": rng.choice([1200, 4800, 12000]),
                "currency": "USD",
                "properties": {"stage": "closed_won"},
            }
        )
    for k in range(strangers):
        rows.append(
            {
                "external_id": f"crm-walk-in-{k}",
                "conversion_type": "store_purchase",
                "timestamp": _iso(end - timedelta(days=1 + k)),
                "email_sha256": hash_email(f"walk-in-{k}@people.example"),
                "revenue": 250,
                "currency": "USD",
            }
        )
    return rows


def _impression(event_id: str, visitor_id: str, t: datetime, rng: random.Random) -> dict:
    _, utms, placements = rng.choices(AD_IMPRESSIONS, weights=[w for w, _, _ in AD_IMPRESSIONS])[0]
    return {
        "event_id": event_id,
        "event_type": "impression",
        "visitor_id": visitor_id,
        "timestamp": _iso(t),
        "properties": {**utms, "placement": rng.choice(placements)},
    }


def ad_impressions(
    traffic: Traffic,
    end: datetime,
    days: float = 45,
    seed: int = 7,
    prefix: str = "demo",
    share: float = 0.15,
    viewers: int = 300,
) -> None:
    """Ads seen, not clicked (docs/impressions.md), added to `traffic` from a stream of their own,
    so the visits and conversions already there stay as they were:

    - about `share` of the visitors saw an ad in the day before their first visit: their journeys
      have visits, so by default the impression takes no credit;
    - `viewers` new people only see ads (1-3 impressions of one campaign): some buy within a day
      without any visit (a view-through conversion: a purchase by visitor_id + timestamp, e.g. in
      the app), some click the ad later (a visit from that campaign) and some of those buy on the
      site, the others never come."""
    rng = random.Random(seed + 4)
    start = end - timedelta(days=days)
    k = 0

    def next_id(kind: str) -> str:
        nonlocal k
        k += 1
        return f"{prefix}-{kind}-{k}"

    first_seen: dict[str, str] = {}
    for e in traffic.events:
        first_seen.setdefault(e["visitor_id"], e["timestamp"])
    for visitor_id, first in first_seen.items():
        if visitor_id.endswith("p") or rng.random() >= share:  # the home device, not the phone
            continue
        seen = datetime.fromisoformat(first.replace("Z", "+00:00")) - timedelta(hours=rng.uniform(1, 20))
        traffic.events.append(_impression(next_id("imp"), visitor_id, seen, rng))
        traffic.impressions += 1
    for v in range(viewers):
        visitor_id = f"vis_{prefix}v{v:05d}"
        t = start + timedelta(seconds=rng.uniform(0, days * 86400 * 0.9))
        shown = [_impression(next_id("imp"), visitor_id, t, rng)]
        for _ in range(rng.randint(0, 2)):  # the same campaign again, hours later
            t += timedelta(hours=rng.uniform(0.5, 8))
            shown.append({**shown[0], "event_id": next_id("imp"), "timestamp": _iso(t)})
        traffic.events.extend(shown)
        traffic.impressions += len(shown)
        outcome = rng.random()
        revenue = round(rng.choice([29, 49, 99, 199]) * (1 + rng.random() * 0.2), 2)
        if outcome < 0.35:  # bought without clicking: a view-through conversion
            bought = t + timedelta(hours=rng.uniform(1, 20))
            if bought < end:
                traffic.view_through += 1
                traffic.visitor_conversions.append(
                    {
                        "visitor_id": visitor_id,
                        "timestamp": _iso(bought),
                        "conversion_type": "purchase",
                        "revenue": revenue,
                        "currency": "USD",
                        "properties": {"via": "app"},
                    }
                )
        elif outcome < 0.65:  # clicked the ad later: a visit from its campaign
            t += timedelta(hours=rng.uniform(0.5, 30))
            utms = {k: v for k, v in shown[0]["properties"].items() if k.startswith("utm_")}
            for p in range(rng.randint(1, 3)):
                if t >= end:
                    break
                props = {"url": SITE + rng.choice(PAGES), "title": "Example Shop"}
                if p == 0:
                    _land(props, utms, k)
                traffic.events.append(
                    {
                        "event_id": next_id("ad"),
                        "event_type": "page_view",
                        "visitor_id": visitor_id,
                        "timestamp": _iso(t),
                        "properties": props,
                    }
                )
                t += timedelta(seconds=rng.uniform(20, 240))
            if t < end and rng.random() < 0.5:
                event_id = next_id("ad")
                traffic.events.append(
                    {
                        "event_id": event_id,
                        "event_type": "purchase",
                        "visitor_id": visitor_id,
                        "timestamp": _iso(t),
                        "properties": {"url": SITE + "/checkout/thank-you", "revenue": revenue},
                    }
                )
                traffic.conversions.append(
                    {"event_id": event_id, "conversion_type": "purchase", "revenue": revenue, "currency": "USD"}
                )


def companies(
    traffic: Traffic, end: datetime, days: float = 45, seed: int = 7, prefix: str = "demo", count: int = 6
) -> None:
    """B2B companies (docs/b2b.md), added to `traffic` from a stream of their own: `count`
    companies of 3-4 people each, who visit through the usual sources and say which company they
    are in with a `group` call on their first visit; one of them becomes the company's MQL. In all
    but the last company, the person seen last closes a deal (a `deal` conversion by visitor_id +
    timestamp carrying `properties.group_id`); the last company is still deciding (a
    non-converting company path)."""
    rng = random.Random(seed + 5)
    weights = [w for w, _ in SOURCES]
    k = 0

    def next_id() -> str:
        nonlocal k
        k += 1
        return f"{prefix}-b2b-{k}"

    for c, name in enumerate(COMPANIES[:count]):
        group_id = name.lower().replace(" ", "-")
        deal = c < count - 1
        closes = end - timedelta(days=rng.uniform(1, max(1.5, days * 0.4))) if deal else end
        members = rng.randint(3, 4)
        lead = rng.randrange(members)  # the member whose visit makes the company a lead
        last: tuple[datetime, str] | None = None
        for m in range(members):
            visitor_id = f"vis_{prefix}b{c}{m}"
            visits = sorted(closes - timedelta(hours=rng.uniform(2, 20 * 24)) for _ in range(rng.randint(1, 3)))
            for s, t in enumerate(visits):
                _, landing = rng.choices(SOURCES, weights=weights)[0]
                for p in range(rng.randint(1, 3)):
                    props = {"url": SITE + rng.choice(PAGES), "title": "Example Shop"}
                    if p == 0:
                        _land(props, landing, f"b{k}")
                    traffic.events.append(
                        {
                            "event_id": next_id(),
                            "event_type": "page_view",
                            "visitor_id": visitor_id,
                            "timestamp": _iso(t),
                            "properties": props,
                        }
                    )
                    t += timedelta(seconds=rng.uniform(1, 120))
                    if s == 0 and p == 0:  # the sign-up form says which company
                        traffic.events.append(
                            {
                                "event_id": next_id(),
                                "event_type": "group",
                                "visitor_id": visitor_id,
                                "timestamp": _iso(t),
                                "properties": {"group_id": group_id, "traits": {"name": name}},
                            }
                        )
                        t += timedelta(seconds=1)
                    if m == lead and s == len(visits) - 1 and p == 0:
                        traffic.events.append(
                            {
                                "event_id": next_id(),
                                "event_type": "mql",
                                "visitor_id": visitor_id,
                                "timestamp": _iso(t),
                                "properties": {},
                            }
                        )
                if last is None or t > last[0]:
                    last = (t, visitor_id)
        traffic.companies += 1
        if deal and last is not None:
            traffic.deals += 1
            traffic.visitor_conversions.append(
                {
                    "visitor_id": last[1],
                    "timestamp": _iso(max(closes, last[0] + timedelta(minutes=5))),
                    "conversion_type": "deal",
                    "revenue": rng.choice([12000, 24000, 48000]),
                    "currency": "USD",
                    "properties": {"group_id": group_id},
                }
            )


def batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load_direct(
    conn, account_id: str, traffic: Traffic, environment: str = "live", streamed: bool = False
) -> tuple[int, int]:
    """Land a traffic history straight into the raw tables (tests and benchmarks; the demo uses HTTP).

    Events land through the API's own statements (mbuzz.db.landing.land_events), so the same
    idempotency wall applies. Rows are received now (a bulk
    load), or with `streamed` when they occurred (a history collected live, as the API lands it).
    Returns (events, conversions) inserted."""
    from mbuzz.db import events_are_unique
    from mbuzz.db.landing import land_events
    from mbuzz.ids import new_id

    events = traffic.events
    rows = [
        {
            "event_id": e["event_id"],
            "event_type": e["event_type"],
            "visitor_id": e["visitor_id"],
            "user_id": e.get("user_id"),
            "occurred_at": e["timestamp"],
            "properties": e.get("properties") or {},
            **({"received_at": e["timestamp"]} if streamed else {}),
        }
        for e in events
    ]
    received_at = conn.execute("select now()").fetchone()[0]
    inserted = (
        land_events(
            conn,
            json.dumps(rows),
            unique=events_are_unique(conn),
            account_id=account_id,
            environment=environment,
            received_at=received_at,
        )
        if rows
        else 0
    )
    by_id = {e["event_id"]: e for e in events}
    convs = [(c, by_id[c["event_id"]]) for c in traffic.conversions]
    conversions = conn.execute(
        """
        with input as (
            select * from unnest(%(conversion_id)s::text[], %(event_id)s::text[], %(type)s::text[],
                                 %(visitor_id)s::text[], %(user_id)s::text[], %(revenue)s::numeric[],
                                 %(currency)s::text[], %(ts)s::timestamptz[])
                as t(conversion_id, event_id, conversion_type, visitor_id, user_id, revenue, currency, converted_at)
        ),
        new_keys as (
            insert into raw.conversion_keys (account_id, dedupe_key, conversion_id, converted_at)
            select %(account_id)s, 'event:' || event_id, conversion_id, converted_at from input
            on conflict do nothing
            returning conversion_id
        )
        insert into raw.conversions (account_id, conversion_id, environment, conversion_type, visitor_id, user_id,
                                     event_id, revenue, currency, converted_at, received_at)
        select %(account_id)s, i.conversion_id, %(environment)s, i.conversion_type, i.visitor_id, i.user_id,
               i.event_id, i.revenue, i.currency, i.converted_at,
               case when %(streamed)s then i.converted_at else now() end
        from input i join new_keys using (conversion_id)
        """,
        {
            "conversion_id": [new_id("conv") for _ in convs],
            "event_id": [c["event_id"] for c, _ in convs],
            "type": [c["conversion_type"] for c, _ in convs],
            "visitor_id": [e["visitor_id"] for _, e in convs],
            "user_id": [e.get("user_id") for _, e in convs],
            "revenue": [c.get("revenue") for c, _ in convs],
            "currency": [c.get("currency") for c, _ in convs],
            "ts": [e["timestamp"] for _, e in convs],
            "account_id": account_id,
            "environment": environment,
            "streamed": streamed,
        },
    ).rowcount
    return inserted, conversions
