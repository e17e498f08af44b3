"""Channel classification in Python: the same seeds, the same steps as the dbt models.

The rules are data (dbt_project/seeds/channel_rules.csv, source_categories.csv, click_ids.csv;
docs/channels.md explains them). The warehouse applies them in SQL (staging/stg_raw__events.sql,
intermediate/int_sessions_classified.sql); this module applies them to one landing (URL and
referrer) so users can debug their tagging (`mbuzz channels explain`) and the API can answer at
once. A test runs both on the parity table and asserts they agree.

URL parsing below mirrors the SQL functions created by dbt_project/macros/urls.sql.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote_plus

from mbuzz.paths import SEEDS_DIR

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

_REGISTERED = re.compile(r"([^.]+\.(?:co|com|org|net|gov|ac|edu|ne|or)\.[a-z]{2}|[^.]+\.[^.]+)$")


@dataclass(frozen=True)
class Rule:
    priority: int
    channel: str
    source_category: str | None
    source_pattern: str | None
    medium_pattern: str | None
    campaign_pattern: str | None
    and_medium_pattern: str | None
    description: str

    def matches(self, source: str, medium: str, campaign: str | None, category: str | None) -> bool:
        atoms = [
            self.source_category is not None and category is not None and category == self.source_category.lower(),
            _search(self.source_pattern, source),
            _search(self.medium_pattern, medium),
            _search(self.campaign_pattern, campaign),
        ]
        has_atoms = any(
            x is not None
            for x in (self.source_category, self.source_pattern, self.medium_pattern, self.campaign_pattern)
        )
        if has_atoms and not any(atoms):
            return False
        return self.and_medium_pattern is None or _search(self.and_medium_pattern, medium)

    @property
    def label(self) -> str:
        return f"{self.priority}. {self.channel}: {self.description}"


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    categories: Mapping[str, str]
    click_ids: tuple[tuple[str, str, str], ...]  # (click_id, source, medium) by priority

    def category(self, name: str | None) -> str | None:
        """Exact name, else its registered domain, else its brand label (as the SQL does)."""
        if name is None:
            return None
        name = name.lower()
        if name in self.categories:
            return self.categories[name]
        domain = registered_domain(name)
        if domain is not None and domain in self.categories:
            return self.categories[domain]
        brand = domain.split(".")[0] if domain is not None else None
        return self.categories.get(brand) if brand is not None else None

    def classify(self, source: str, medium: str, campaign: str | None) -> Rule | None:
        source, medium = source.lower(), medium.lower()
        campaign = campaign.lower() if campaign is not None else None
        category = self.category(source)
        for rule in self.rules:
            if rule.matches(source, medium, campaign, category):
                return rule
        return None


@dataclass
class Explanation:
    channel: str
    rule: str
    priority: int | None
    source: str
    medium: str
    campaign: str | None
    source_category: str | None
    self_referral: bool | None  # None: cannot be told (a referrer, no landing host)
    inputs: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _search(pattern: str | None, value: str | None) -> bool:
    if pattern is None or value is None:
        return False
    return re.search(pattern, value, re.IGNORECASE) is not None


def _blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip(" ")
    return value or None


def url_host(url: str | None) -> str | None:
    """Lower-case host without `www.` (SQL function mbuzz_url_host, dbt_project/macros/urls.sql)."""
    if not url or "://" not in url:
        return None
    authority = url[url.index("://") + 3 :].split("/")[0].split("?")[0].split("#")[0]
    host = authority[authority.find("@") + 1 :].split(":")[0].lower()
    if host.startswith("www."):
        host = host[4:]
    return host or None


def url_decode(value: str) -> str:
    """Percent-decoding with `+` as a space; malformed UTF-8 leaves the text as it was."""
    try:
        return unquote_plus(value, errors="strict")
    except UnicodeDecodeError:
        return value.replace("+", " ")


def url_param(url: str | None, name: str) -> str | None:
    """First `name=` parameter after `?` or `&`, decoded (SQL function mbuzz_url_param)."""
    if not url:
        return None
    q, a = url.find("?" + name + "="), url.find("&" + name + "=")
    start = q if q >= 0 and (a < 0 or q < a) else a
    if start < 0:
        return None
    raw = url[start + len(name) + 2 :].split("&")[0].split("#")[0]
    if "%" in raw or "+" in raw:
        raw = url_decode(raw)
    return _blank(raw)


def registered_domain(host: str | None) -> str | None:
    if not host:
        return None
    match = _REGISTERED.search(host)
    return match.group(1) if match else None


def _read(name: str, seeds_dir: Path) -> list[dict]:
    with open(seeds_dir / name, newline="", encoding="utf-8") as handle:
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(handle)]


# the event property / URL parameter names read, in the seed's order: click_ids.csv is their one
# home (the dbt macro click_id_names() repeats them; tests/foundation/test_facts.py keeps it equal)
CLICK_ID_NAMES = tuple(row["click_id"].lower() for row in _read("click_ids.csv", SEEDS_DIR))


@lru_cache(maxsize=4)
def load_rules(seeds_dir: Path = SEEDS_DIR) -> RuleSet:
    """The rule set from the seed CSVs (the one source of truth)."""
    rules = sorted(
        (
            Rule(
                priority=int(row["priority"]),
                channel=row["channel"],
                source_category=row["source_category"],
                source_pattern=row["source_pattern"],
                medium_pattern=row["medium_pattern"],
                campaign_pattern=row["campaign_pattern"],
                and_medium_pattern=row["and_medium_pattern"],
                description=row["description"] or "",
            )
            for row in _read("channel_rules.csv", seeds_dir)
        ),
        key=lambda rule: rule.priority,
    )
    categories = {row["source"].lower(): row["category"] for row in _read("source_categories.csv", seeds_dir)}
    clicks = sorted(_read("click_ids.csv", seeds_dir), key=lambda row: int(row["priority"]))
    click_ids = tuple((row["click_id"].lower(), row["source"], row["medium"]) for row in clicks)
    return RuleSet(tuple(rules), categories, click_ids)


@dataclass(frozen=True)
class LandingSource:
    """What int_sessions_classified derives from a session's landing, before the rules run.

    is_self_referral: True for a landing from the account's own site without UTMs or click id;
    None when that cannot be told (a referrer but no landing host: SQL's NULL). In both cases the
    session keeps the source of its group's first session (`own` is None); False: `own` holds the
    session's own (source, medium, campaign).
    """

    is_self_referral: bool | None
    own: tuple[str, str, str | None] | None


def landing_source(
    *,
    utm_source: str | None,
    utm_medium: str | None,
    utm_campaign: str | None,
    click_ids: Mapping[str, str | None],
    landing_host: str | None,
    referrer_host: str | None,
    own_domains: Iterable[str],
    rules: RuleSet,
) -> LandingSource:
    """Source / medium / campaign of one landing, with the SQL's three-valued logic (None = NULL).

    The one Python copy of the rule (int_sessions_classified.sql `inputs` → `own_sources`): the
    warehouse port (mbuzz.sessions.classify) and `mbuzz channels explain` both call it. Values are
    already cleaned (blank → None); own domains are lower-case, without `www.`."""
    click_source = click_medium = None
    for click_id, source, medium in rules.click_ids:
        if click_ids.get(click_id) is not None:
            click_source, click_medium = source, medium
            break
    if referrer_host is None:
        is_own = False
    elif any(referrer_host == d or referrer_host.endswith("." + d) for d in own_domains):
        is_own = True
    elif landing_host is None:
        is_own = None  # referrer_host = NULL is NULL, not false
    else:
        is_own = referrer_host == landing_host
    tagged = utm_source is not None or utm_medium is not None or utm_campaign is not None or click_source is not None
    is_self = False if tagged else is_own
    if is_self is not False:
        return LandingSource(is_self, None)
    external = referrer_host is not None and is_own is False
    source = utm_source or click_source or (referrer_host if external else None) or "(direct)"
    if utm_medium or click_medium:
        medium = utm_medium or click_medium
    elif external:
        medium = "organic" if rules.category(referrer_host) == "search" else "referral"
    else:
        medium = "(none)"
    return LandingSource(False, (source, medium, utm_campaign))


def explain(
    url: str | None,
    referrer: str | None = None,
    *,
    utm: Mapping[str, str | None] | None = None,
    click_ids: Mapping[str, str | None] | None = None,
    own_domains: Iterable[str] = (),
    previous: Mapping[str, str | None] | None = None,
    rules: RuleSet | None = None,
) -> Explanation:
    """The channel of a session landing on `url` from `referrer`, and the rule that fired.

    `utm` / `click_ids` override what the URL's query string says (as event properties do).
    `own_domains`: the account's own domains (a referral from them, or from the landing host,
    without UTMs or click id is a self-referral). `previous`: the visitor's previous session's
    {source, medium, campaign}, which a self-referral keeps (default: direct). A referrer with
    no landing URL to compare it with also keeps the previous source, as the warehouse does.
    """
    rules = rules or load_rules()
    utm = dict(utm or {})
    values = {name: _blank(utm.get(name)) or url_param(url, name) for name in UTM_FIELDS}
    clicks = dict(click_ids or {})
    present = {name: _blank(clicks.get(name)) or url_param(url, name) for name in CLICK_ID_NAMES}
    landing_host = url_host(url)
    referrer_host = url_host(_blank(referrer))
    own = [re.sub(r"^www\.", "", d.strip().lower()) for d in own_domains if d and d.strip()]

    landing = landing_source(
        utm_source=values["utm_source"],
        utm_medium=values["utm_medium"],
        utm_campaign=values["utm_campaign"],
        click_ids=present,
        landing_host=landing_host,
        referrer_host=referrer_host,
        own_domains=own,
        rules=rules,
    )
    if landing.own is None:
        previous = previous or {}
        source = previous.get("source") or "(direct)"
        medium = previous.get("medium") or "(none)"
        campaign = previous.get("campaign")
    else:
        source, medium, campaign = landing.own

    rule = rules.classify(source, medium, campaign)
    label = rule.label if rule else "no rule matched"
    if landing.is_self_referral:
        label += f" (self-referral from {referrer_host}: keeps the previous session's source)"
    elif landing.is_self_referral is None:
        label += (
            f" (referrer {referrer_host} and no landing host to compare it with: keeps the previous session's source)"
        )
    return Explanation(
        channel=rule.channel if rule else "unassigned",
        rule=label,
        priority=rule.priority if rule else None,
        source=source,
        medium=medium,
        campaign=campaign,
        source_category=rules.category(source),
        self_referral=landing.is_self_referral,
        inputs={
            "landing_host": landing_host,
            "referrer_host": referrer_host,
            **values,
            **{k: v for k, v in present.items() if v},
        },
    )
