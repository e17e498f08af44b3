"""The DSL's syntax tree: frozen dataclasses that remember where they came from.

parser.py builds these from source text; validator.py and compiler.py are
separate passes over them. Nothing here evaluates anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    line: int = field(default=0, kw_only=True)
    column: int = field(default=0, kw_only=True)


@dataclass(frozen=True)
class ChannelFilter(Node):
    channels: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Selector(Node):
    name: str
    argument: str | None = None
    filter: ChannelFilter | None = None


@dataclass(frozen=True)
class Share(Node):
    value: float  # as a fraction: `40%` is 0.4
    text: str  # as written, for messages


@dataclass(frozen=True)
class Distribution(Node):
    kind: str  # "equally" | "proportionally" | "time_decay"
    half_life_days: float | None = None


@dataclass(frozen=True)
class Credit(Node):
    selector: Selector
    share: Share
    distribution: Distribution | None = None


@dataclass(frozen=True)
class Weight(Node):
    channel: str
    factor: float


@dataclass(frozen=True)
class KindWeight(Node):
    kind: str  # a touch kind: "impression" | "visit"
    factor: float


@dataclass(frozen=True)
class Distribute(Node):
    distribution: Distribution


@dataclass(frozen=True)
class Lookback(Node):
    days: float


@dataclass(frozen=True)
class JourneyBy(Node):
    """`journey_by account`: the model runs on account-level (B2B company) journeys."""

    unit: str


Statement = Credit | Weight | KindWeight | Distribute | Lookback | JourneyBy


@dataclass(frozen=True)
class Model(Node):
    name: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Program(Node):
    models: tuple[Model, ...]
