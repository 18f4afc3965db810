"""`steward score | scores | backtest | calibrate`: the signals from the command line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.cli.common import ensure_schema, err, out, settings, unreachable
from core.settings import config_file_path
from services import scoring
from services.calibration import FEW_OUTCOMES, CalibrationResult, calibrate, write_scoring
from services.container import Services, build_services
from services.scoring import BacktestResult, ScoreRun
from signals.challengers import CURRENT
from signals.evaluate import AccountSignals
from signals.model import ScoringError, Snapshot
from storage import book, repository, snapshots
from storage.db import DatabaseUnavailable, read_connection

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Day to score, YYYY-MM-DD (default: last usage day)")
]
EXPORT_COLUMNS = (
    "account_id",
    "name",
    "health_score",
    "band",
    "churn_risk",
    "expansion_likelihood",
    "tier",
    "forecast_exhaustion_date",
    "projected_month_end_spend",
    "reasons",
)


def parse_day(value: str, option: str) -> date:
    """A YYYY-MM-DD date, or exit with a clear message."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print(
            f"{option} must be a date like 2026-11-21, not {value!r}", style="red", markup=False
        )
        raise typer.Exit(2) from None


def parse_days(value: str, option: str) -> int:
    """A duration in days: '60d', '8w' or '60'."""
    match = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", value.lower())
    if not match or int(match.group(1)) <= 0:
        err.print(f"{option} must be like 60d, 8w or 60, not {value!r}", style="red", markup=False)
        raise typer.Exit(2)
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


def _services() -> Services:
    services = build_services(settings())
    ensure_schema(services)
    return services


@contextmanager
def _guard() -> Iterator[None]:
    try:
        yield
    except ScoringError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(1) from None
    except DatabaseUnavailable as exc:
        raise unreachable(exc) from None


@contextmanager
def _progress(description: str, total: int) -> Iterator[scoring.Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _as_of(services: Services, value: str | None) -> date:
    if value:
        return parse_day(value, "--as-of")
    return book.default_as_of(services.engine, services.clock().date())


def score(
    as_of: AsOf = None,
    first: Annotated[str | None, typer.Option("--from", help="Replay from this day")] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="... to this day (default: as-of)")
    ] = None,
    top: Annotated[int, typer.Option(help="How many accounts to list")] = 10,
) -> None:
    """Score every account for a day (or replay a range of days) and keep the snapshots."""
    services = _services()
    with _guard():
        end = parse_day(last, "--to") if last else _as_of(services, as_of)
        start = parse_day(first, "--from") if first else end
        if start > end:
            err.print("--from must not be after --to", style="red")
            raise typer.Exit(2)
        config = services.settings.scoring_config()
        accounts = book.count_accounts(services.engine)
        days = (end - start).days + 1
        with _progress(f"scoring {accounts} accounts x {days} day(s)", accounts * days) as tick:
            run = scoring.score_range(
                services.engine,
                first=start,
                last=end,
                config=config,
                now=services.clock(),
                progress=tick,
            )
    _print_run(run, top, replayed=days)


def _print_run(run: ScoreRun, top: int, *, replayed: int) -> None:
    bands, tiers = run.bands(), run.tiers()
    n = len(run.signals)
    head = f"Scored {n} account{'' if n == 1 else 's'} as of {run.as_of}"
    if replayed > 1:
        head += f" (replayed {replayed} days)"
    out.print(
        f"{head}: {bands['healthy']} healthy, {bands['watch']} watch, {bands['at risk']} at risk; "
        f"tiers {tiers['strategic']} strategic, {tiers['scaled']} scaled, "
        f"{tiers['digital']} digital; {len(run.alerts)} alert(s)."
    )
    if not run.signals or top <= 0:
        return
    worst = sorted(run.signals, key=lambda s: (s.health.score, s.account_id))[:top]
    out.print(_table("Lowest health", worst, lambda s: s.reasons(1)))
    churn = sorted(run.signals, key=lambda s: (-s.churn.probability, s.account_id))[:top]
    out.print(_table("Most likely to churn", churn, lambda s: s.churn.top(2)))
    grow = sorted(run.signals, key=lambda s: (-s.expansion.probability, s.account_id))[:top]
    out.print(_table("Most likely to expand", grow, lambda s: s.expansion.top(2)))
    for alert in run.alerts[:top]:
        owner = f" -> {alert.owner}" if alert.owner else ""
        out.print(
            f"[{alert.severity}] {alert.account_id}: {alert.title}{owner}. {alert.evidence}",
            markup=False,
        )
    if len(run.alerts) > top:
        out.print(f"... and {len(run.alerts) - top} more alert(s)")


def _table(
    title: str, ranked: list[AccountSignals], why: Callable[[AccountSignals], list[str]]
) -> Table:
    table = Table("account", "health", "churn", "expand", "tier", "why", title=title)
    for s in ranked:
        change = "" if s.change is None else f" ({s.change:+.0f})"
        table.add_row(
            escape(s.features.account.name),
            f"{s.health.score:.0f} {s.health.band}{change}",
            f"{s.churn.probability:.0%}",
            f"{s.expansion.probability:.0%}",
            s.tier.state.tier,
            escape("; ".join(why(s))),
        )
    return table


def scores(
    as_of: AsOf = None,
    output_format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (default: stdout)")
    ] = None,
) -> None:
    """Export one row per account (score, band, risks, tier, forecasts, reasons) for BI tools."""
    if output_format not in ("csv", "json"):
        err.print("--format must be csv or json", style="red")
        raise typer.Exit(2)
    services = _services()
    with _guard():
        day = _as_of(services, as_of)
        rows = _snapshot_rows(services, day)
    text = _render(rows, output_format)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"Wrote {len(rows)} accounts to {output}.")


def _snapshot_rows(services: Services, day: date) -> list[dict[str, Any]]:
    with read_connection(services.engine) as conn:
        snaps = snapshots.snapshots_on(conn, day=day)
        names = repository.account_names(conn)
    if not snaps:
        err.print(f"No snapshots for {day} yet: scoring that day now.")
        config = services.settings.scoring_config()
        run = scoring.score_day(services.engine, as_of=day, config=config, now=services.clock())
        return _snapshot_rows(services, day) if run.signals else []
    return [_row(snaps[key], names.get(key, key)) for key in sorted(snaps)]


def _row(s: Snapshot, name: str) -> dict[str, Any]:
    return {
        "account_id": s.account_id,
        "name": name,
        "health_score": s.score,
        "band": s.band,
        "churn_risk": s.churn_risk,
        "expansion_likelihood": s.expansion_likelihood,
        "tier": s.tier,
        "forecast_exhaustion_date": s.exhaustion_date.isoformat() if s.exhaustion_date else None,
        "projected_month_end_spend": s.projected_month_spend,
        "reasons": list(s.reasons),
    }


def _render(rows: list[dict[str, Any]], output_format: str) -> str:
    if output_format == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "reasons": " | ".join(row["reasons"])})
    return buffer.getvalue()


def backtest(
    as_of: AsOf = None,
    horizon: Annotated[
        str,
        typer.Option(
            help="How far ahead outcomes are judged: 60d, 8w, 90, or auto (the horizon "
            "`steward calibrate` chose, else 60 days)"
        ),
    ] = "auto",
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Score the book at a past cut-off and report how well it ranked churn and expansion."""
    services = _services()
    config = services.settings.scoring_config()
    days = config.horizon_days if horizon == "auto" else parse_days(horizon, "--horizon")
    with _guard():
        if as_of:
            cutoff = parse_day(as_of, "--as-of")
        else:
            span = book.data_span(services.engine)
            if span is None:
                raise ScoringError("No usage stored yet: nothing to backtest.")
            cutoff = span[1] - timedelta(days=days)
        total = book.count_accounts(services.engine)
        with _progress("backtest", total) as tick:
            result = scoring.backtest(
                services.engine, as_of=cutoff, horizon_days=days, config=config, progress=tick
            )
    if output_format == "json":
        typer.echo(json.dumps(backtest_json(result), indent=2))
        return
    print_backtest(result)


def backtest_json(result: BacktestResult) -> dict[str, Any]:
    """The backtest as JSON-ready data."""
    return {
        "as_of": result.as_of.isoformat(),
        "horizon_days": result.horizon_days,
        "accounts": result.accounts,
        "churned": result.churned,
        "expanded": result.expanded,
        "predictors": [
            {
                "target": r.target,
                "predictor": r.predictor,
                "auc": r.auc,
                "top_decile_lift": r.top_decile_lift,
                "kind": r.kind,
            }
            for r in result.results
        ],
        "churn_deciles": result.churn_deciles,
        "expansion_deciles": result.expansion_deciles,
    }


def print_backtest(result: BacktestResult) -> None:
    """The backtest as tables."""
    out.print(
        f"Backtest at {result.as_of}, {result.horizon_days}-day horizon: {result.accounts} "
        f"accounts active before the cut-off; {result.churned} churned, "
        f"{result.expanded} expanded after it."
    )
    table = Table("outcome", "predictor", "ROC AUC", "top-decile lift")
    for r in result.results:
        name = f"[bold]{r.predictor}[/bold]" if r.is_model else r.predictor
        auc = "n/a" if r.auc is None else f"{r.auc:.3f}"
        lift = "n/a" if r.top_decile_lift is None else f"{r.top_decile_lift:.1f}x"
        table.add_row(r.target, name, auc, lift)
    out.print(table)
    for target, deciles in (
        ("churn", result.churn_deciles),
        ("expansion", result.expansion_deciles),
    ):
        lifts = "  ".join(f"{d}:{lift:.1f}x" for d, _, _, lift in deciles)
        out.print(f"{target} lift by decile (1 = highest score): {lifts}")
    for target, count in (("churn", result.churned), ("expansion", result.expanded)):
        if count < FEW_OUTCOMES:
            out.print(
                f"{target}: only {count} account(s) had this outcome; the AUC moves a lot "
                "with each one (try another --as-of or a longer --horizon)."
            )
    for target in ("churn", "expansion"):
        model, base = result.model(target), result.best_baseline(target)
        if model and base and model.auc is not None and base.auc is not None:
            verdict = "beats" if model.auc > base.auc else "does NOT beat"
            out.print(
                f"{target}: the model ({model.auc:.3f}) {verdict} the best simple baseline, "
                f"{base.predictor} ({base.auc:.3f}), by {model.auc - base.auc:+.3f}."
            )


def calibrate_command(
    horizon: Annotated[
        str,
        typer.Option(
            help="How far ahead churn is judged: 60d, 8w, 90, or auto (the longest the "
            "history allows: 90 days for a book used less than weekly, else up to 60)"
        ),
    ] = "auto",
    cutoffs: Annotated[int, typer.Option(min=1, max=24, help="Training cut-offs")] = 6,
    step: Annotated[
        str, typer.Option(help="Days between training cut-offs (auto: half the horizon, <= 28)")
    ] = "auto",
    dry_run: Annotated[bool, typer.Option(help="Report, but do not write the config")] = False,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config", help="TOML file to update (default: $STEWARD_CONFIG or steward.toml)"
        ),
    ] = None,
) -> None:
    """Fit the score to this book's own history, out of time, against simple baselines.

    The full model and the simple predictors (recency, volume, trend, per-metric
    counts, BG/NBD) are fitted on earlier cut-offs and ranked on the latest one;
    the best ships, so the score is never worse than a baseline on that period.
    """
    services = _services()
    horizon_days = None if horizon == "auto" else parse_days(horizon, "--horizon")
    step_days = None if step == "auto" else parse_days(step, "--step")
    with _guard():
        config = services.settings.scoring_config()
        total = book.count_accounts(services.engine) * 4
        with _progress("calibrating", total) as tick:
            result = calibrate(
                services.engine,
                config=config,
                horizon_days=horizon_days,
                count=cutoffs,
                step_days=step_days,
                progress=tick,
            )
    _print_calibration(result)
    target = config_path or config_file_path() or Path("steward.toml")
    if not result.improved:
        out.print(
            "Nothing did better than the current settings on the held-out period: config unchanged."
        )
        return
    if dry_run:
        out.print(f"--dry-run: {target} left unchanged.")
        return
    note = _auc_note(result)
    write_scoring(target, result.config, note=note, now=services.clock())
    out.print(f"Wrote the calibrated score to {target} ({note}).")


def _auc_note(result: CalibrationResult) -> str:
    parts = []
    for contest in (result.churn, result.expansion):
        champion, current = contest.champion, contest.entry(CURRENT)
        target = "churn" if contest.target == "churned" else "expansion"
        if champion.auc is None or target not in result.judged():
            continue
        old = f"{current.auc:.3f} -> " if current and current.auc is not None else ""
        parts.append(f"{target} AUC {old}{champion.auc:.3f} ({champion.name})")
    return ", ".join(parts)


def _print_calibration(result: CalibrationResult) -> None:
    chosen = result.plan
    cut = ", ".join(d.isoformat() for d in chosen.training)
    held = (
        f"validated on {result.held_out_rows} accounts at {chosen.validation}"
        if not chosen.earlier
        else "validated at the held-out cut-offs "
        + ", ".join(d.isoformat() for d in chosen.origins)
        + " (each against models trained only on earlier outcomes; an AUC below is the mean "
        "over them)"
    )
    out.print(
        f"Horizon {chosen.horizon_days} days ({chosen.reason}). Trained on "
        f"{result.training_rows} account-periods at cut-offs {cut}; {held}."
    )
    for contest in (result.churn, result.expansion):
        target = "churn" if contest.target == "churned" else "expansion"
        judged = target in result.judged()
        shipped = contest.champion if judged else contest.entry(CURRENT)
        table = Table(f"{target}: held-out AUC", "AUC", "")
        for entry in contest.entries:
            mark = "ships" if entry is shipped else ""
            auc = "n/a" if entry.auc is None else f"{entry.auc:.3f}"
            table.add_row(entry.name, auc, mark)
        out.print(table)
        if contest.positives < FEW_OUTCOMES:
            out.print(
                f"Too few {target} outcomes in the held-out period ({contest.positives}, fewer "
                f"than {FEW_OUTCOMES}) to judge {target}: the current {target} model is kept."
            )
    for note in result.notes:
        out.print(note)


def register(app: typer.Typer) -> None:
    """Add the scoring commands to the CLI."""
    app.command()(score)
    app.command()(scores)
    app.command()(backtest)
    app.command("calibrate")(calibrate_command)
