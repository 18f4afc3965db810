"""The read-only tools the model may call for ``/steward ask``: their JSON schemas and what they do.

Every tool sees only the accounts ``ctx.visible`` allows (the asker's scope, the same
predicate the commands use); an account outside it answers exactly as an id that does not
exist, so the model cannot learn it is there. An account name or a tool result that tells
the model to look at another account can only make it ask for that account, and the
answer is the same refusal. Each result carries the data the model sees, the accounts in
it and a line in Steward's own words (what the answer falls back to).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.llm import ToolCall
from handlers.chat.cards import opportunities, risks
from handlers.chat.context import Context
from handlers.chat.lookup import AccountView, account_names, account_view, scoring_day, value_for
from handlers.chat.matching import NameIndex, match_account
from handlers.chat.narrative import value_figures
from signals.words import percent
from storage import snapshots
from storage.db import read_connection

LIST_LIMIT = 10
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90, "quarter": 91, "year": 365}
NO_ACCOUNT = "No account with that id is visible to you. Use find_accounts to look one up."


def _schema(
    name: str, description: str, properties: dict[str, Any], required: Sequence[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(required),
                "additionalProperties": False,
            },
        },
    }


ACCOUNT_ID = {"account_id": {"type": "string", "description": "An id a tool returned."}}
TIER = {"tier": {"type": "string", "enum": ["digital", "scaled", "strategic"]}}
LIMIT = {"limit": {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT}}
TOOLS: tuple[dict[str, Any], ...] = (
    _schema(
        "find_accounts",
        "Find accounts by (part of) their name; returns ids and names.",
        {"name": {"type": "string"}},
        ["name"],
    ),
    _schema(
        "get_health",
        "An account's health score (0-100), band, change since last week, tier, churn risk, "
        "expansion likelihood, the reasons, risks and opportunities.",
        ACCOUNT_ID,
        ["account_id"],
    ),
    _schema(
        "get_forecast",
        "An account's commit: committed, used, burn per day, the date it runs out against "
        "the term end; this month's projected spend against budget.",
        ACCOUNT_ID,
        ["account_id"],
    ),
    _schema(
        "get_value",
        "Value an account realized over a period: spend, outcomes, hours saved, value, "
        "return on spend, success rates.",
        {**ACCOUNT_ID, "period": {"type": "string", "enum": sorted(PERIOD_DAYS)}},
        ["account_id"],
    ),
    _schema(
        "list_risks",
        "The accounts most likely to churn, with churn risk and drivers.",
        {**LIMIT, **TIER},
        [],
    ),
    _schema(
        "list_expansions",
        "The accounts most likely to expand, with expansion likelihood and drivers.",
        {**LIMIT, **TIER},
        [],
    ),
    _schema(
        "list_commit_runouts",
        "Accounts whose commit is forecast to run out, soonest first, optionally only "
        "those running out before a date (YYYY-MM-DD).",
        {**LIMIT, **TIER, "before": {"type": "string", "format": "date"}},
        [],
    ),
)
TOOL_NAMES = frozenset(t["function"]["name"] for t in TOOLS)


@dataclass
class ToolResult:
    """What one tool returned: the data the model sees, the accounts in it, a line for people."""

    data: dict[str, Any]
    accounts: dict[str, str] = field(default_factory=dict)  # id -> name
    line: str = ""


class AskTools:
    """The read-only tools over one request's Context (the asker's scope)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._names: dict[str, str] | None = None
        self._views: dict[str, AccountView | None] = {}

    def run(self, call: ToolCall) -> ToolResult:
        """Run the tool a call names with its JSON arguments; errors are results too."""
        try:
            args = json.loads(call.arguments or "{}")
        except ValueError:
            return ToolResult({"error": "arguments were not valid JSON"})
        if not isinstance(args, dict):
            return ToolResult({"error": "arguments must be a JSON object"})
        method: Callable[[dict[str, Any]], ToolResult] | None = {
            "find_accounts": self.find_accounts,
            "get_health": self.get_health,
            "get_forecast": self.get_forecast,
            "get_value": self.get_value,
            "list_risks": self.list_risks,
            "list_expansions": self.list_expansions,
            "list_commit_runouts": self.list_commit_runouts,
        }.get(call.name)
        if method is None:
            return ToolResult({"error": f"no tool named {call.name!r}"})
        return method(args)

    def names(self) -> dict[str, str]:
        """Every visible account's name by id."""
        if self._names is None:
            every = account_names(self.ctx.engine).names
            self._names = {i: n for i, n in every.items() if self.ctx.visible(i)}
        return self._names

    def _view(self, account_id: object) -> AccountView | None:
        key = str(account_id or "")
        if key not in self._views:
            found = None
            if key in self.names():
                found = account_view(
                    self.ctx.engine, key, today=self.ctx.today, config=self.ctx.config
                )
            self._views[key] = found
        return self._views[key]

    def find_accounts(self, args: dict[str, Any]) -> ToolResult:
        """The visible accounts whose name matches what the model typed."""
        query = str(args.get("name") or "").strip()
        match = match_account(query, NameIndex.of(self.names())) if query else None
        found: list[tuple[str, str]] = []
        if match is not None:
            found = (
                [(match.account_id, match.name or "")]
                if match.account_id is not None
                else list(match.choices)
            )
        accounts = [{"id": i, "name": n} for i, n in found]
        line = f"Accounts matching “{query}”: " + (", ".join(n for _, n in found) or "none")
        return ToolResult({"accounts": accounts, "count": len(accounts)}, dict(found), line)

    def get_health(self, args: dict[str, Any]) -> ToolResult:
        """One account's health, risks and opportunities (its latest scoring)."""
        view = self._view(args.get("account_id"))
        if view is None:
            return ToolResult({"error": NO_ACCOUNT})
        s = view.snapshot
        data: dict[str, Any] = {
            "account_id": str(view.info["id"]),
            "name": view.name,
            "scored_on": s.day.isoformat(),
            "health": round(s.score),
            "band": s.band,
            "change_since_last_week": view.change,
            "tier": s.tier,
            "tier_since": s.tier_since.isoformat(),
            "churn_risk": round(s.churn_risk, 3),
            "expansion_likelihood": round(s.expansion_likelihood, 3),
            "reasons": list(s.reasons[:4]),
            "risks": risks(view),
            "opportunities": opportunities(view),
            "arr": view.info.get("arr"),
            "renewal_date": str(view.info.get("renewal_date") or "") or None,
        }
        line = (
            f"{view.name}: health {s.score:.0f}/100 ({s.band}), "
            f"churn risk {percent(s.churn_risk)}, "
            f"expansion likelihood {s.expansion_likelihood:.0%}, {s.tier} tier"
        )
        return ToolResult(data, {str(view.info["id"]): view.name}, line)

    def get_forecast(self, args: dict[str, Any]) -> ToolResult:
        """One account's commit forecast and this month's spend against budget."""
        view = self._view(args.get("account_id"))
        if view is None:
            return ToolResult({"error": NO_ACCOUNT})
        fc, spend = view.features.commit, view.features.spend
        data: dict[str, Any] = {"account_id": str(view.info["id"]), "name": view.name}
        data["as_of"] = view.as_of.isoformat()
        lines = []
        if fc is not None:
            data["commit"] = {
                "status": fc.status,
                "currency": fc.currency,
                "committed": round(fc.committed, 2),
                "used": round(fc.consumed, 2),
                "used_share": round(fc.utilization, 3),
                "remaining": round(fc.remaining, 2),
                "term_start": fc.start.isoformat(),
                "term_end": fc.end.isoformat(),
                "term_elapsed_share": round(fc.elapsed_fraction, 3),
                "burn_per_day": round(fc.daily_burn, 2),
                "runs_out_on": fc.exhaustion_date.isoformat() if fc.exhaustion_date else None,
                "days_before_term_end": fc.days_early,
                "projected_use_at_term_end_share": round(fc.projected_utilization, 3),
            }
            lines.append(fc.explain())
        if spend is not None:
            data["this_month"] = {
                "month": spend.month.isoformat(),
                "currency": spend.currency,
                "spent": round(spend.spent, 2),
                "projected": round(spend.projected, 2),
                "budget": spend.budget,
                "usual_month": round(spend.baseline, 2) if spend.baseline else None,
                "bill_shock_risk": spend.bill_shock,
            }
            lines.append(spend.explain())
        if not lines:
            data["note"] = "no contract with a commit and unit prices covers today"
            lines.append("no commit to forecast")
        return ToolResult(data, {data["account_id"]: view.name}, f"{view.name}: {' '.join(lines)}")

    def get_value(self, args: dict[str, Any]) -> ToolResult:
        """The value one account realized over a period (90 days by default)."""
        view = self._view(args.get("account_id"))
        if view is None:
            return ToolResult({"error": NO_ACCOUNT})
        period = str(args.get("period") or "90d")
        days = PERIOD_DAYS.get(period, 90)
        value = value_for(view, days, self.ctx.config)
        data = value_figures(view, value, f"last {days} days")
        return ToolResult(
            data, {str(view.info["id"]): view.name}, f"{view.name}: {value.explain()}"
        )

    def _ranked(self, args: dict[str, Any], by: str, title: str) -> ToolResult:
        day, found = self._snapshots(args)
        ranked = sorted(found, key=lambda s: (-getattr(s, by), s.account_id))[: _limit(args)]
        names = self.names()
        rows = []
        for s in ranked:
            drivers = s.explained("churn_drivers" if by == "churn_risk" else "expansion_drivers")
            rows.append(
                {
                    "account_id": s.account_id,
                    "name": names[s.account_id],
                    by: round(getattr(s, by), 3),
                    "health": round(s.score),
                    "tier": s.tier,
                    "drivers": [str(d) for d in (drivers or [])[:2]],
                }
            )
        line = f"{title}: " + (", ".join(f"{r['name']} {r[by]:.0%}" for r in rows) or "none scored")
        data = {"scored_on": day.isoformat() if day else None, "accounts": rows, "count": len(rows)}
        return ToolResult(data, {r["account_id"]: r["name"] for r in rows}, line)

    def list_risks(self, args: dict[str, Any]) -> ToolResult:
        """The visible accounts most likely to churn, riskiest first."""
        return self._ranked(args, "churn_risk", "Most likely to churn")

    def list_expansions(self, args: dict[str, Any]) -> ToolResult:
        """The visible accounts most likely to expand, likeliest first."""
        return self._ranked(args, "expansion_likelihood", "Most likely to expand")

    def list_commit_runouts(self, args: dict[str, Any]) -> ToolResult:
        """The visible accounts whose commit runs out, soonest first."""
        before = _day(args.get("before"))
        day, found = self._snapshots(args)
        running = sorted(
            (
                s
                for s in found
                if s.exhaustion_date is not None and (before is None or s.exhaustion_date < before)
            ),
            key=lambda s: (s.exhaustion_date or date.max, s.account_id),
        )[: _limit(args)]
        names = self.names()
        rows = [
            {
                "account_id": s.account_id,
                "name": names[s.account_id],
                "runs_out_on": s.exhaustion_date.isoformat() if s.exhaustion_date else None,
                "tier": s.tier,
                "health": round(s.score),
            }
            for s in running
        ]
        line = "Commit runs out: " + (
            ", ".join(f"{r['name']} on {r['runs_out_on']}" for r in rows) or "none forecast"
        )
        data = {"scored_on": day.isoformat() if day else None, "accounts": rows, "count": len(rows)}
        return ToolResult(data, {r["account_id"]: r["name"] for r in rows}, line)

    def _snapshots(self, args: dict[str, Any]) -> tuple[date | None, list[Any]]:
        day = scoring_day(self.ctx.engine, self.ctx.today)
        with read_connection(self.ctx.engine) as conn:
            found = snapshots.snapshots_on(conn, day=day)
        names = self.names()
        tier = args.get("tier")
        return day, [
            s for s in found.values() if s.account_id in names and (not tier or s.tier == tier)
        ]


def _limit(args: dict[str, Any]) -> int:
    try:
        return max(1, min(LIST_LIMIT, int(args.get("limit") or LIST_LIMIT)))
    except (TypeError, ValueError):
        return LIST_LIMIT


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
