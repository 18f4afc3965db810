"""Everything computed for one account on one day before it is compared with its peers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from signals.activity import Activity, activity
from signals.adoption import Adoption, adoption
from signals.commit import (
    CommitForecast,
    SpendProjection,
    commit_forecast,
    contract_in_force,
    spend_projection,
)
from signals.config import ScoringConfig
from signals.consumption import Consumption, consumption
from signals.model import AccountData, AccountInfo
from signals.series import days_back
from signals.support import SupportLoad, support_load
from signals.ttv import TimeToValue, time_to_value
from signals.value import ValueRealized, value_realized

LOOKBACK_DAYS = 731  # history one day's score reads: commit terms and time to value
USER_DAYS = 120  # per-user history it reads: adoption compares the last two 28-day windows


@dataclass(frozen=True, slots=True)
class AccountFeatures:
    """One account's signals as of one day (peer standing filled in by the book pass)."""

    account: AccountInfo
    as_of: date
    consumption: Consumption
    commit: CommitForecast | None
    spend: SpendProjection | None
    adoption: Adoption
    ttv: TimeToValue
    support: SupportLoad
    value: ValueRealized
    activity: Activity
    peer_percentile: float | None = None

    def with_peer(self, percentile: float | None) -> AccountFeatures:
        """The same features with the account's standing among its segment peers."""
        return replace(self, peer_percentile=percentile)

    @property
    def annual_value(self) -> float:
        """ARR, else the commit scaled to a year: what tiers are based on."""
        if self.account.arr:
            return self.account.arr
        fc = self.commit
        if fc is None:
            return 0.0
        term_days = (fc.end - fc.start).days + 1
        return fc.committed * 365 / term_days


def extract(data: AccountData, as_of: date, config: ScoringConfig) -> AccountFeatures:
    """Compute every per-account signal from the data on or before as_of."""
    contract = contract_in_force(data.contracts, as_of)
    prices = contract.unit_prices if contract else {}
    window = config.windows.recent_days
    return AccountFeatures(
        account=data.account,
        as_of=as_of,
        consumption=consumption(data.metrics, as_of, config, prices),
        commit=commit_forecast(data.metrics, data.contracts, as_of, config.alerts),
        spend=spend_projection(data.metrics, data.contracts, as_of, config.alerts),
        adoption=adoption(data.dimensions, as_of, window),
        ttv=time_to_value(data.account, data.metrics, data.contracts, as_of, config.ttv),
        support=support_load(data.tickets, as_of, window),
        value=value_realized(
            data.metrics,
            data.dimensions,
            days_back(as_of, window),
            as_of,
            prices,
            config.value_factors,
        ),
        activity=activity(data.metrics, as_of, config.bgnbd_model(), config.horizon_days),
    )
