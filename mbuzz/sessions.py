"""The warehouse's sessions, channels and journey cut, in Python, for one identity at a time.

The API answers `POST /conversions` at once with provisional credits; the pipeline later
recomputes them from `marts.fct_conversion_journeys`. Both must see the same journey, so this
module ports, step by step, the dbt models that build it (a test proves they agree row for row):

    stage_event        staging/stg_raw__events.sql      marketing fields from properties,
                                                        the Segment context, the page URL
    sessionise         intermediate/int_sessions.sql    client session ids; else a new session
                                                        after a gap of MORE than the timeout, or
                                                        when campaign data changes; ids
                                                        `sess_` + md5(account|env|visitor|first event)[:24]
    classify           intermediate/int_sessions_classified.sql   source / medium / campaign
                                                        (self-referrals keep the previous
                                                        session's) and the channel, by the seeds
    identities         intermediate/int_identities.sql  a visitor's latest user link wins
    conversion_journey marts/fct_conversion_journeys.sql   the identity's sessions started in
                                                        [t - lookback, t], ordered by start then
                                                        session id; milestones on the touch of
                                                        the identity's first mql / sql

`visitor_journey(events, conversion_ts, ...)` runs them all and returns the touches in the
attribution engine's input format (journey_id, touch_ts, channel, converted, conversion_ts,
revenue, milestones) with `touch_index, session_id, utm_source, utm_medium, utm_campaign`
carried (the classified source / medium / campaign, as in the warehouse).

Settings (timeout, lookback, milestone types, max touches, conversion cycles, own domains) are
read from the vars in dbt_project.yml, so one edit changes both. Text ordering: PostgreSQL
orders text by the database's collation; `text_order` lets the caller pass that order (see
mbuzz/conversions.py), Python's code-point order is the default. Interval arithmetic is in UTC
(`interval 'N days'` = N × 24 h; the warehouse's sessions run with TimeZone UTC).

No Flask and no database here: plain rows in, a DataFrame out.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from attribution.journeys import DEFAULT_LOOKBACK_DAYS
from mbuzz.channels import CLICK_ID_NAMES, RuleSet, landing_source, load_rules, url_host, url_param
from mbuzz.paths import DBT_PROJECT_FILE

UTM = (("source", "source"), ("medium", "medium"), ("campaign", "name"), ("term", "term"), ("content", "content"))
MARKETING = ("utm_source", "utm_medium", "utm_campaign", *CLICK_ID_NAMES)
JOURNEY_COLUMNS = (
    "journey_id",
    "conversion_id",
    "converted",
    "conversion_ts",
    "conversion_type",
    "revenue",
    "touch_index",
    "touch_ts",
    "session_id",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "milestones",
    "identity_key",
)
TextOrder = Callable[[str], Any]


@dataclass(frozen=True)
class WarehouseSettings:
    """The dbt vars the sessions and journeys depend on (their one home: dbt_project.yml's vars;
    the defaults here only stand in for a var that is missing there)."""

    session_timeout_minutes: int = 30
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    max_touches: int | None = None
    conversion_cycles: bool = False
    milestone_types: tuple[str, ...] = ("mql", "sql")
    own_domains: tuple[str, ...] = ()
    include_test: bool = False


@lru_cache(maxsize=1)
def warehouse_settings(path: Path = DBT_PROJECT_FILE) -> WarehouseSettings:
    """The settings from dbt_project.yml's vars (the warehouse's single source)."""
    vars_ = (yaml.safe_load(path.read_text()) or {}).get("vars") or {}
    d = WarehouseSettings()
    max_touches = vars_.get("mbuzz__max_touches")
    if isinstance(max_touches, str) and max_touches.strip().lower() in ("none", "null", ""):
        max_touches = None
    return WarehouseSettings(
        session_timeout_minutes=int(vars_.get("mbuzz__session_timeout_minutes", d.session_timeout_minutes)),
        lookback_days=int(vars_.get("mbuzz__lookback_days", d.lookback_days)),
        max_touches=int(max_touches) if max_touches is not None else None,
        conversion_cycles=bool(vars_.get("mbuzz__conversion_cycles", d.conversion_cycles)),
        milestone_types=tuple(vars_.get("mbuzz__milestone_event_types") or d.milestone_types),
        own_domains=tuple(vars_.get("mbuzz__own_domains") or d.own_domains),
        include_test=bool(vars_.get("mbuzz__include_test", d.include_test)),
    )


def own_domains(settings_json: Mapping | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """An account's own domains as stg_raw__accounts derives them (settings.own_domains + the var)."""
    listed = (settings_json or {}).get("own_domains")
    values = [_json_text(v) for v in listed] if isinstance(listed, list) else []
    values += list(extra)
    out = set()
    for value in values:
        if value is None or not value.strip(" "):
            continue
        domain = value.strip(" ").lower()
        out.add(domain[4:] if domain.startswith("www.") else domain)
    return tuple(sorted(out))


# -- staging --------------------------------------------------------------------------------


def _json_text(value: Any) -> str | None:
    """What PostgreSQL's `jsonb ->> key` gives for a JSON value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def _field(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _clean(value: Any) -> str | None:
    """nullif(btrim(value), '')"""
    text = _json_text(value) if not isinstance(value, str) else value
    if text is None:
        return None
    text = text.strip(" ")
    return text or None


def stage_event(row: Mapping[str, Any]) -> dict:
    """One raw.events row as stg_raw__events types it."""
    props = row.get("properties") or {}
    ctx = row.get("context") or {}
    page_url = _clean(_field(props, "url")) or _clean(_field(ctx, "page", "url"))
    referrer = _clean(_field(props, "referrer")) or _clean(_field(ctx, "page", "referrer"))
    out = {
        "event_id": row["event_id"],
        "environment": row["environment"],
        "event_type": (row.get("event_type") or "").lower(),
        "visitor_id": row["visitor_id"],
        "user_id": _clean(row.get("user_id")),
        "client_session_id": _clean(row.get("session_id")),
        "occurred_at": row["occurred_at"],
        "page_url": page_url,
        "page_host": url_host(page_url),
        "referrer": referrer,
        "referrer_host": url_host(referrer),
    }
    for name, segment in UTM:
        out[f"utm_{name}"] = (
            _clean(_field(props, f"utm_{name}"))
            or _clean(_field(ctx, "campaign", segment))
            or url_param(page_url, f"utm_{name}")
        )
    for click_id in CLICK_ID_NAMES:
        out[click_id] = _clean(_field(props, click_id)) or url_param(page_url, click_id)
    return out


# -- sessions -------------------------------------------------------------------------------


@dataclass
class Session:
    account_id: str
    environment: str
    visitor_id: str
    session_id: str
    events: list[dict] = field(default_factory=list)  # in (occurred_at, event_id) order; [0] is the landing
    is_client_session: bool = False

    @property
    def landing(self) -> dict:
        return self.events[0]

    @property
    def started_at(self) -> datetime:
        return min(e["occurred_at"] for e in self.events)

    @property
    def ended_at(self) -> datetime:
        return max(e["occurred_at"] for e in self.events)

    @property
    def user_id(self) -> str | None:
        """The latest user id seen in the session (by occurred_at desc, event_id desc)."""
        for event in reversed(self.events):
            if event["user_id"] is not None:
                return event["user_id"]
        return None

    def first_at(self, event_type: str) -> datetime | None:
        times = [e["occurred_at"] for e in self.events if e["event_type"] == event_type]
        return min(times) if times else None


def session_id_for(account_id: str, environment: str, visitor_id: str, first_event_id: str) -> str:
    """`'sess_' || left(md5(account_id || '|' || environment || '|' || visitor_id || '|' || event_id), 24)`"""
    text = f"{account_id}|{environment}|{visitor_id}|{first_event_id}"
    return "sess_" + hashlib.md5(text.encode("utf-8")).hexdigest()[:24]


def _campaign_key(event: dict) -> str | None:
    values = [event[f] for f in MARKETING]
    if all(v is None for v in values):
        return None
    return "|".join((v or "").lower() for v in values)


def sessionise(
    events: Sequence[dict], account_id: str, timeout_minutes: int = 30, text_order: TextOrder | None = None
) -> list[Session]:
    """Staged events (any visitors, one environment each) → sessions, as int_sessions cuts them."""
    key = text_order or (lambda s: s)
    timeout = timedelta(minutes=timeout_minutes)
    by_visitor: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for event in events:
        if event["event_type"] == "impression":  # an ad seen is not a visit (int_sessions)
            continue
        by_visitor[(event["environment"], event["visitor_id"])].append(event)
    sessions: list[Session] = []
    for (environment, visitor_id), visitor_events in by_visitor.items():
        ordered = sorted(visitor_events, key=lambda e: (e["occurred_at"], key(e["event_id"])))
        client: dict[str, Session] = {}
        previous_at = None
        previous_current = None
        current_campaign = None
        current: Session | None = None
        for event in ordered:
            if event["client_session_id"] is not None:
                session = client.get(event["client_session_id"])
                if session is None:
                    session = client[event["client_session_id"]] = Session(
                        account_id, environment, visitor_id, event["client_session_id"], is_client_session=True
                    )
                    sessions.append(session)
                session.events.append(event)
                continue
            campaign = _campaign_key(event)
            visit_start = previous_at is None or event["occurred_at"] - previous_at > timeout
            if visit_start or campaign is not None:  # a new campaign group: its first event sets the campaign
                current_campaign = campaign
            session_start = visit_start or (campaign is not None and campaign != previous_current)
            if session_start:
                current = Session(
                    account_id,
                    environment,
                    visitor_id,
                    session_id_for(account_id, environment, visitor_id, event["event_id"]),
                )
                sessions.append(current)
            current.events.append(event)
            previous_at = event["occurred_at"]
            previous_current = current_campaign
    return sessions


# -- channels -------------------------------------------------------------------------------


@dataclass
class Touch:
    """A classified session (int_sessions_classified)."""

    session: Session
    source: str
    medium: str
    campaign: str | None
    channel: str
    is_self_referral: bool | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def classify(
    sessions: Sequence[Session],
    own: Sequence[str] = (),
    rules: RuleSet | None = None,
    text_order: TextOrder | None = None,
) -> list[Touch]:
    """Source, medium, campaign and channel of every session, per int_sessions_classified."""
    rules = rules or load_rules()
    key = text_order or (lambda s: s)
    by_visitor: dict[tuple[str, str], list[Session]] = defaultdict(list)
    for session in sessions:
        by_visitor[(session.environment, session.visitor_id)].append(session)
    touches: list[Touch] = []
    for visitor_sessions in by_visitor.values():
        group_values = None  # the (source, medium, campaign) of the current source group's first session
        for session in sorted(visitor_sessions, key=lambda s: (s.started_at, key(s.session_id))):
            landing = session.landing
            found = landing_source(
                utm_source=landing["utm_source"],
                utm_medium=landing["utm_medium"],
                utm_campaign=landing["utm_campaign"],
                click_ids=landing,
                landing_host=landing["page_host"],
                referrer_host=landing["referrer_host"],
                own_domains=own,
                rules=rules,
            )
            is_self = found.is_self_referral
            if found.own is not None:
                group_values = found.own
            source, medium, campaign = group_values or ("(direct)", "(none)", None)
            rule = rules.classify(source, medium, campaign)
            touches.append(Touch(session, source, medium, campaign, rule.channel if rule else "unassigned", is_self))
    return touches


# -- identities and journeys ------------------------------------------------------------------


def identities(sessions: Iterable[Session | Touch], conversions: Iterable[Mapping] = ()) -> dict[tuple[str, str], str]:
    """{(environment, visitor_id): user_id}: each visitor's latest link (int_identities, which reads
    int_sessions: classified sessions, touches, give the same answer)."""
    links: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for session in sessions:
        user = session.user_id
        if user is not None:
            links[(session.environment, session.visitor_id)].append((session.ended_at, user))
    for conversion in conversions:
        user = _clean(conversion.get("user_id"))
        if user is not None:
            links[(conversion["environment"], conversion["visitor_id"])].append((conversion["converted_at"], user))
    # order by linked_at desc, user_id: the latest link, ties to the smallest user id
    out = {}
    for visitor, found in links.items():
        latest = max(at for at, _ in found)
        out[visitor] = min(user for at, user in found if at == latest)
    return out


def identity_key(
    environment: str, visitor_id: str, ids: Mapping[tuple[str, str], str], user_id: str | None = None
) -> str:
    user = user_id or ids.get((environment, visitor_id))
    return f"user:{user}" if user is not None else f"visitor:{visitor_id}"


def conversion_journey(
    touches: Sequence[Touch],
    conversion: Mapping[str, Any],
    ids: Mapping[tuple[str, str], str],
    settings: WarehouseSettings,
    previous_conversion_at: datetime | None = None,
    text_order: TextOrder | None = None,
) -> pd.DataFrame:
    """The journey rows of one conversion, as fct_conversion_journeys holds them."""
    key = text_order or (lambda s: s)
    environment = conversion["environment"]
    t = conversion["converted_at"]
    wanted = identity_key(environment, conversion["visitor_id"], ids, _clean(conversion.get("user_id")))
    mine = [
        x for x in touches if x.environment == environment and identity_key(environment, x.visitor_id, ids) == wanted
    ]
    start = t - timedelta(days=settings.lookback_days)
    window = [
        x
        for x in mine
        if start <= x.started_at <= t
        and (not settings.conversion_cycles or previous_conversion_at is None or x.started_at > previous_conversion_at)
    ]
    window.sort(key=lambda x: (x.started_at, key(x.session_id)))
    if settings.max_touches is not None:
        window = window[-settings.max_touches :]
    first_milestone: dict[str, tuple[str, datetime]] = {}
    for milestone in settings.milestone_types:
        marked = [
            (x.first_at(milestone), x.started_at, key(x.session_id), x.session_id)
            for x in mine
            if x.first_at(milestone) is not None
        ]
        if marked:
            at, _, _, session_id = min(marked)
            first_milestone[milestone] = (session_id, at)
    base = {
        "journey_id": conversion["conversion_id"],
        "conversion_id": conversion["conversion_id"],
        "converted": True,
        "conversion_ts": t,
        "conversion_type": (conversion.get("conversion_type") or "").lower(),
        "revenue": float(conversion.get("revenue") or 0),
        "identity_key": wanted,
    }
    rows = []
    for index, x in enumerate(window):
        milestones = [
            m
            for m in settings.milestone_types
            if m in first_milestone and first_milestone[m][0] == x.session_id and first_milestone[m][1] <= t
        ]
        rows.append(
            {
                **base,
                "touch_index": index,
                "touch_ts": x.started_at,
                "session_id": x.session_id,
                "channel": x.channel,
                "utm_source": x.source,
                "utm_medium": x.medium,
                "utm_campaign": x.campaign,
                "milestones": ";".join(milestones),
            }
        )
    if not rows:  # a conversion without touches: one row the engine credits to `unassigned`
        rows.append(
            {
                **base,
                "touch_index": None,
                "touch_ts": None,
                "session_id": None,
                "channel": "",
                "utm_source": None,
                "utm_medium": None,
                "utm_campaign": None,
                "milestones": "",
            }
        )
    frame = pd.DataFrame(rows, columns=list(JOURNEY_COLUMNS))
    frame["touch_ts"] = pd.to_datetime(frame["touch_ts"], utc=True)
    frame["conversion_ts"] = pd.to_datetime(frame["conversion_ts"], utc=True)
    frame["touch_index"] = frame["touch_index"].astype("Int64")
    return frame


def visitor_journey(
    events: Iterable[Mapping[str, Any]],
    conversion_ts: datetime,
    *,
    account_id: str,
    environment: str = "live",
    settings: WarehouseSettings | None = None,
    text_order: TextOrder | None = None,
    **conversion: Any,
) -> pd.DataFrame:
    """The touches of one conversion from raw event rows, in the attribution engine's input format.

    events: raw.events rows (dicts with event_id, environment, event_type, visitor_id, user_id,
    session_id, occurred_at, properties, context) of every visitor that may belong to the
    conversion's identity: the visitor and, when identified, the user's other visitors.
    conversion: the keyword arguments of `session_journey` (visitor_id, conversion_id, user_id,
    conversion_type, revenue, conversions, own_domains, rules); conversions are the
    raw.conversions rows of those visitors (they link visitors to users too), with or without this
    one. Rows of other environments are ignored.
    """
    settings = settings or warehouse_settings()
    staged = [stage_event(e) for e in events if e["environment"] == environment]
    return session_journey(
        sessionise(staged, account_id, settings.session_timeout_minutes, text_order),
        conversion_ts,
        environment=environment,
        settings=settings,
        text_order=text_order,
        **conversion,
    )


def session_journey(
    sessions: Sequence[Session],
    conversion_ts: datetime,
    *,
    visitor_id: str,
    conversion_id: str,
    environment: str = "live",
    user_id: str | None = None,
    conversion_type: str = "",
    revenue: float = 0.0,
    conversions: Iterable[Mapping[str, Any]] = (),
    own_domains: Sequence[str] = (),
    settings: WarehouseSettings | None = None,
    rules: RuleSet | None = None,
    text_order: TextOrder | None = None,
) -> pd.DataFrame:
    """`visitor_journey` from sessions already cut (`sessionise`, one environment): for a caller
    that sessionised the events before, to find the identity, and must not do it again."""
    settings = settings or warehouse_settings()
    touches = classify(sessions, own_domains, rules, text_order)
    this = {
        "conversion_id": conversion_id,
        "environment": environment,
        "visitor_id": visitor_id,
        "user_id": user_id,
        "converted_at": conversion_ts,
        "conversion_type": conversion_type,
        "revenue": revenue,
    }
    others = [c for c in conversions if c["environment"] == environment and c["conversion_id"] != conversion_id]
    ids = identities(touches, [*others, this])
    previous = None
    if settings.conversion_cycles:
        wanted = identity_key(environment, visitor_id, ids, _clean(user_id))
        key = text_order or (lambda s: s)
        before = [
            (c["converted_at"], key(c["conversion_id"]))
            for c in others
            if (c.get("conversion_type") or "").lower() == conversion_type.lower()
            and identity_key(environment, c["visitor_id"], ids, _clean(c.get("user_id"))) == wanted
            and (c["converted_at"], key(c["conversion_id"])) < (conversion_ts, key(conversion_id))
        ]
        previous = max(before)[0] if before else None
    return conversion_journey(touches, this, ids, settings, previous, text_order)
