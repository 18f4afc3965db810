"""`steward demo`: one command that shows Steward working, from a generated book to /health.

1. Build (``demo.build``): a year of usage for a few hundred generated accounts,
   stored through the real ingestion path in a SQLite file (or found there from an
   earlier run with the same seed), then the worker's jobs: scoring a week ago and
   this morning, alerts and tier changes, digests.
2. Show (``demo.show``): this morning's manager digest, a CSM's digest, the latest
   alerts and tier changes, a backtest and one /health answer, rendered for the
   terminal from the same Cards Slack and Teams get.
3. Then a prompt that answers the commands typed in Slack (``/health acme``,
   ``/steward risks``, ...), or with ``--serve`` the web app on the demo database.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.adapters.console.outbox import PLATFORM, ConsoleOutbox
from bot.adapters.console.session import Session, run_prompt
from bot.cli.common import check_bind, server_options, settings, unreachable
from bot.cli.common import err as err_console
from bot.cli.common import out as out_console
from core.settings import Settings
from demo import show as demo_show
from demo.build import (
    DEFAULT_ACCOUNTS,
    DEFAULT_CHARTS,
    DEFAULT_DATABASE,
    DEFAULT_SEED,
    Demo,
    DemoError,
    Timings,
    database_url,
    open_demo,
    prepare,
    remove_database,
    run_jobs,
)
from storage import repository
from storage.db import DatabaseUnavailable, read_connection

__all__ = ["DEFAULT_ACCOUNTS", "DEFAULT_SEED", "Demo", "DemoError", "Options", "run"]
WIDTH = 100


@dataclass(frozen=True, slots=True)
class Options:
    """What `steward demo` was asked for."""

    database: Path = DEFAULT_DATABASE
    charts: Path = DEFAULT_CHARTS
    seed: int = DEFAULT_SEED
    accounts: int = DEFAULT_ACCOUNTS
    fresh: bool = False


def build(
    settings: Settings, options: Options, *, err: Console, now: datetime | None = None
) -> Demo:
    """The demo database, ingested (or reused) and scored, with the jobs' messages queued."""
    database_url(options.database)  # refuse a URL before removing anything
    if options.fresh and remove_database(options.database):
        err.print(f"Removed {options.database}: building the demo book again.", markup=False)
    services = open_demo(settings, options.database)
    demo = prepare(
        services,
        seed=options.seed,
        accounts=options.accounts,
        now=now or datetime.now(UTC),
        err=err,
        timings=Timings(),
    )
    with err.status("scoring and running the jobs"):
        run_jobs(demo, PLATFORM, ConsoleOutbox(services.engine))
    return demo


def session_for(demo: Demo, charts: Path, width: int) -> Session:
    """A terminal session as the featured CSM, who can @mention any owner of the book."""
    with read_connection(demo.services.engine) as conn:
        routing = repository.account_routing(conn)
    owners = sorted({who for r in routing.values() for who in (r.csm, r.ae) if who})
    return Session(demo.context(), demo.user, charts, owners=owners, width=width)


def run(
    settings: Settings, options: Options, *, out: Console, err: Console
) -> tuple[Demo, Session]:
    """Build the demo and print what Steward says this morning; return it and a session."""
    demo = build(settings, options, err=err)
    session = session_for(demo, options.charts, min(out.width, WIDTH))
    with demo.timings.phase("print"):
        show(demo, session, out)
    return demo, session


def show(demo: Demo, session: Session, out: Console) -> None:
    """Everything the demo prints before the prompt."""
    demo_show.show_book(demo, out)
    demo_show.show_jobs(demo, out)
    demo_show.show_digests(demo, out, session)
    demo_show.show_alerts(demo, out, session)
    demo_show.show_backtest(demo, out)
    demo_show.show_health(demo, out, session)


def interact(demo: Demo, session: Session, out: Console) -> None:
    """Answer typed commands until quit, exit or the end of the input."""
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    examples = demo_show.examples(demo)
    demo_show.heading(out, "Your turn: the commands you would type in Slack or Teams")
    out.print(
        f"You are {demo.user.name} ({demo.csm}). Try: {', '.join(examples)}. "
        f"Charts are saved in {session.charts}/. Type help for every command, quit to leave.",
        markup=False,
    )
    run_prompt(session, write=lambda text: demo_show.print_card(out, text))


def serve_demo(demo: Demo, *, err: Console, host: str | None, port: int | None) -> None:
    """Serve the web app (webhooks, Slack, Teams, reads) on the demo database."""
    import uvicorn

    from bot.web import create_app

    settings = demo.services.settings
    for line in settings.feature_report():
        err.print(line, markup=False)
    bind_host, bind_port = host or settings.host, port or settings.port
    check_bind(settings, bind_host)
    err.print(
        f"Serving the demo database on http://{bind_host}:{bind_port}: point a Slack app at "
        "/slack/events or a Teams bot at /api/messages (README: Slack, Microsoft Teams). "
        "Ctrl-C stops.",
        markup=False,
    )
    uvicorn.run(
        create_app(demo.services),
        host=bind_host,
        port=bind_port,
        proxy_headers=True,
        **server_options(),
    )


def demo_command(
    database: Annotated[
        Path, typer.Option(help="The demo's SQLite file (DATABASE_URL is left alone)")
    ] = Path("steward-demo.db"),
    seed: Annotated[int, typer.Option(help="The generated book's seed")] = 7,
    accounts: Annotated[int, typer.Option(min=20, max=5000, help="Accounts in the book")] = 200,
    charts: Annotated[Path, typer.Option(help="Where chart images are saved")] = Path(
        "steward-demo-charts"
    ),
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the demo file first")] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Print everything, then exit (no prompt)")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="After printing, serve the web app on the demo data")
    ] = False,
    port: Annotated[int | None, typer.Option(help="Port for --serve (default: $PORT)")] = None,
) -> None:
    """Generate a year of usage, run the real jobs, print the digests, then answer /health."""
    options = Options(database, charts, seed, accounts, fresh)
    try:
        shown, session = run(settings(), options, out=out_console, err=err_console)
    except DemoError as exc:
        err_console.print(str(exc), style="red", markup=False)
        raise typer.Exit(1) from None
    except DatabaseUnavailable as exc:
        raise unreachable(exc) from None
    err_console.print(f"Timings: {shown.timings.words()}.", markup=False)
    if serve:
        serve_demo(shown, err=err_console, host=None, port=port)
    elif not no_input:
        interact(shown, session, out_console)


def register(app: typer.Typer) -> None:
    """Add `steward demo` to the CLI."""
    app.command("demo")(demo_command)
