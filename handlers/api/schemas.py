"""What senders may send: the validated shapes of events, accounts, contracts and tickets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

MAX_PROPERTIES_BYTES = 4096
MAX_PROPERTIES_DEPTH = 8  # objects and lists inside `properties`
MAX_QUANTITY = 1e15  # per event or amount: far above any real use, far below float overflow
MIN_TIMESTAMP_YEAR = 2000


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NO_NUL = AfterValidator(_no_nul)


def _text(max_length: int, *, min_length: int = 0, pattern: str | None = None) -> Any:
    return StringConstraints(
        strict=True,
        strip_whitespace=True,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
    )


def _require_string(value: Any) -> Any:
    """Dates and times must be written as text (RFC 3339), never as epoch numbers."""
    if not isinstance(value, str | date):
        raise ValueError("must be a string in ISO 8601 / RFC 3339 form")
    return value


def _after_2000(value: datetime) -> datetime:
    if value.year < MIN_TIMESTAMP_YEAR:
        raise ValueError(f"must be in or after {MIN_TIMESTAMP_YEAR}")
    return value


Id = Annotated[str, _text(255, min_length=1), NO_NUL]
Label = Annotated[str, _text(255, min_length=1), NO_NUL]
MetricName = Annotated[str, _text(100, min_length=1, pattern=r"^[A-Za-z0-9_.:/-]+$")]
Amount = Annotated[float, Strict(), Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_require_string), AfterValidator(_after_2000)]
Day = Annotated[date, BeforeValidator(_require_string)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventIn(_Input):
    """A usage event: `quantity` of `metric` used by `account` at `timestamp`."""

    id: Id
    account: Id
    timestamp: Timestamp
    metric: MetricName
    quantity: Amount = 1.0
    user: Label | None = None
    feature: Label | None = None
    team: Label | None = None
    success: StrictBool | None = None
    properties: dict[str, Any] | None = None

    @field_validator("properties")
    @classmethod
    def _small_properties(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if _depth(value) > MAX_PROPERTIES_DEPTH:
            raise ValueError(f"must nest at most {MAX_PROPERTIES_DEPTH} levels")
        try:
            encoded = orjson.dumps(value)
        except orjson.JSONEncodeError:  # an integer past 64 bits (read by the lenient parser)
            raise ValueError("numbers must fit in 64 bits") from None
        if len(encoded) > MAX_PROPERTIES_BYTES:
            raise ValueError(f"must be at most {MAX_PROPERTIES_BYTES} bytes as JSON")
        if b"\\u0000" in encoded:
            raise ValueError("must not contain NUL characters")
        return value


def _depth(value: Any) -> int:
    """How many objects and lists are nested in a JSON value (stops counting past the cap)."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, level = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        if not isinstance(node, dict | list):
            continue
        deepest = max(deepest, level)
        if deepest > MAX_PROPERTIES_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("must be an IANA time zone such as 'Europe/Paris'") from exc
    return value


class AccountIn(_Input):
    """A customer account from the CRM; fields left out keep their stored value."""

    id: Id
    name: Label
    domain: Annotated[str, _text(255), NO_NUL] | None = None
    segment: Annotated[str, _text(100), NO_NUL] | None = None
    arr: Amount | None = None
    csm: Label | None = None
    ae: Label | None = None
    timezone: Annotated[str, _text(64), AfterValidator(_known_timezone)] | None = None
    customer_since: Day | None = None
    go_live_date: Day | None = None
    renewal_date: Day | None = None
    churned_date: Day | None = None


class ContractIn(_Input):
    """A commit or prepaid credits for an account, priced per metric."""

    id: Id
    account: Id
    kind: Literal["commit", "prepaid_credits"] = "commit"
    start_date: Day
    end_date: Day
    committed_amount: Amount
    currency: Annotated[str, _text(3, pattern=r"^[A-Z]{3}$")] = "USD"
    unit_prices: dict[MetricName, Amount] = Field(default_factory=dict, max_length=200)
    monthly_budget: Amount | None = None

    @model_validator(mode="after")
    def _term_is_ordered(self) -> ContractIn:
        if self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        return self


class TicketIn(_Input):
    """A support ticket from the help desk."""

    id: Id
    account: Id
    status: Literal["new", "open", "pending", "hold", "solved", "closed"]
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    subject: Annotated[str, _text(500), NO_NUL] | None = None
    opened_at: Timestamp
    solved_at: Timestamp | None = None
    csat: Annotated[StrictInt, Field(ge=1, le=5)] | None = None

    @model_validator(mode="after")
    def _solved_after_opened(self) -> TicketIn:
        if self.solved_at is not None and self.solved_at < self.opened_at:
            raise ValueError("solved_at must not be before opened_at")
        return self


MAX_COUNT = 10**12  # events or users in one summary row


class UsageIn(_Input):
    """A usage total for one account, metric and UTC day (or one hour of it).

    A later total for the same account, metric and day (or hour) replaces the earlier
    one; ``hour`` (the start of a UTC hour) folds into its day. Errors raised as
    ``"field: reason"`` are reported on that field.
    """

    id: Id
    account: Id
    metric: MetricName
    day: Day | None = None
    hour: Timestamp | None = None
    quantity: Amount
    events: Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)] | None = None
    users: Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)] | None = None

    @model_validator(mode="after")
    def _day_or_hour(self) -> UsageIn:
        if self.hour is None:
            if self.day is None:
                raise ValueError("day: is required (YYYY-MM-DD), unless hour is given")
            if self.day.year < MIN_TIMESTAMP_YEAR:
                raise ValueError(f"day: must be in or after {MIN_TIMESTAMP_YEAR}")
            return self
        hour = self.hour.astimezone(UTC)
        if (hour.minute, hour.second, hour.microsecond) != (0, 0, 0):
            raise ValueError("hour: must be the start of an hour (minutes and seconds 0)")
        if self.day is not None and self.day != hour.date():
            raise ValueError(f"day: must be the UTC date of hour ({hour.date().isoformat()})")
        return self

    @property
    def utc_day(self) -> date:
        """The UTC day the total counts for."""
        return self.hour.astimezone(UTC).date() if self.hour is not None else self.day  # type: ignore[return-value]

    @property
    def slot(self) -> int:
        """The UTC hour (0-23) of an hourly total; -1 for a total of the whole day."""
        return self.hour.astimezone(UTC).hour if self.hour is not None else -1


Kind = Literal["events", "accounts", "contracts", "tickets", "usage"]
MODELS: dict[str, type[_Input]] = {
    "events": EventIn,
    "accounts": AccountIn,
    "contracts": ContractIn,
    "tickets": TicketIn,
    "usage": UsageIn,
}
