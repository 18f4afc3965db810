"""Platform-neutral commands: what a user typed in, a Card out.

Slack's `/health acme`, a Teams message `health acme` and the terminal demo all
arrive here as a :class:`CommandRequest`; the adapters only translate and render.
"""

from __future__ import annotations

from dataclasses import replace

from core.messages import CHOICE, Button, ButtonValue, Card, Section
from handlers.chat import cards, follows, lists, subscriptions
from handlers.chat.ask import ask_card
from handlers.chat.context import CommandRequest, Context, Person, everyone, typed
from handlers.chat.lookup import AccountView, account_names, account_view, value_for
from handlers.chat.matching import Match, NameIndex, match_account
from handlers.chat.narrative import value_figures, with_value_narrative
from handlers.chat.subscription_grammar import SUBSCRIBE_USAGE, UNSUBSCRIBE_USAGE
from signals.model import ScoringError

ACCOUNT_COMMANDS = ("health", "value", "forecast")
STEWARD_SUBCOMMANDS = (
    "help",
    "book",
    "risks",
    "expansions",
    "tier",
    "digest",
    "subscribe",
    "unsubscribe",
    "subscriptions",
    "follow",
    "unfollow",
    "follows",
    "ask",
)
PERIODS = {"7d": 7, "30d": 30, "90d": 90, "month": 30, "quarter": 91, "year": 365}
DEFAULT_PERIOD = "90d"


def handle(request: CommandRequest, ctx: Context) -> Card:
    """Answer one command; bad input gets a card that says what to type instead."""
    try:
        card = _dispatch(request, ctx)
    except ScoringError as exc:
        card = Card(title="Nothing to show yet", summary=str(exc))
    if ctx.notes:
        footer = " ".join(filter(None, (card.footer, *ctx.notes)))
        card = replace(card, footer=footer)
    return card


def _dispatch(request: CommandRequest, ctx: Context) -> Card:
    command = request.command.lower().lstrip("/")
    if command in ACCOUNT_COMMANDS:
        return _account_command(command, request, ctx)
    if command == "steward":
        return _steward(request, ctx)
    if command == "ask":  # Teams and the terminal: "ask which accounts ..."
        return ask_card(request.text, ctx)
    return help_card(
        f"Steward does not know the command {typed('/' + command, request.platform)}.",
        request.platform,
    )


def _steward(request: CommandRequest, ctx: Context) -> Card:
    sub, _, rest = request.text.strip().partition(" ")
    sub = sub.lower()
    if sub in ("", "help"):
        return help_card(platform=request.platform)
    if sub == "tier":
        return _account_command("tier", replace(request, text=rest), ctx)
    if sub == "book":
        who = request.mentioned[0] if request.mentioned else request.user
        return lists.book_card(ctx.engine, who.handles(), who.name or who.id, ctx.today)
    if sub == "risks":
        return lists.risks_card(ctx.engine, ctx.today)
    if sub == "expansions":
        return lists.expansions_card(ctx.engine, ctx.today)
    if sub == "digest":
        return lists.digest_preview(ctx.engine, ctx.today)
    if sub == "ask":
        return ask_card(rest, ctx)
    if sub in SUBSCRIPTION_CARDS:
        return SUBSCRIPTION_CARDS[sub](replace(request, text=rest), ctx)
    return help_card(
        f"Steward does not know {typed('/steward ' + sub, request.platform)}.", request.platform
    )


def _account_command(command: str, request: CommandRequest, ctx: Context) -> Card:
    text, period = _split_period(request.text) if command == "value" else (request.text, None)
    account_id = request.account_id
    if account_id is None:
        if not text.strip():
            usage = typed("/" + _usage(command), request.platform)
            return help_card(f"Name an account: {usage}", request.platform)
        match = match_account(text, _visible_names(ctx))
        if not match.found:
            return choice_card(command, match, period)
        account_id = match.account_id
    assert account_id is not None
    if not ctx.visible(account_id):
        return Card(title="Account not found", summary=f"No account has the id {account_id}.")
    view = account_view(ctx.engine, account_id, today=ctx.today, config=ctx.config)
    if view is None:
        return Card(title="Account not found", summary=f"No account has the id {account_id}.")
    return _account_card(command, view, period or DEFAULT_PERIOD, ctx)


def _account_card(command: str, view: AccountView, period: str, ctx: Context) -> Card:
    if command == "health":
        card = cards.health_card(view)
    elif command == "forecast":
        card = cards.forecast_card(view)
    elif command == "tier":
        card = cards.tier_card(view)
    else:
        value = value_for(view, PERIODS[period], ctx.config)
        words = _period_words(period)
        card = cards.value_card(view, value, words, period)
        card = with_value_narrative(card, value_figures(view, value, words), ctx.llm)
    return card if ctx.may_share else without_share(card)


def _visible_names(ctx: Context) -> NameIndex:
    index = account_names(ctx.engine)
    if ctx.visible is everyone:
        return index
    return NameIndex.of({i: n for i, n in index.names.items() if ctx.visible(i)})


def without_share(card: Card) -> Card:
    """The card without its Share button (where sharing is not allowed, or already done)."""
    return replace(card, buttons=tuple(b for b in card.buttons if b.action != "share"))


def _split_period(text: str) -> tuple[str, str | None]:
    """`acme corp 30d` -> ("acme corp", "30d"); a period must be the last word."""
    words = text.split()
    if words and words[-1].lower() in PERIODS:
        return " ".join(words[:-1]), words[-1].lower()
    return text, None


def _period_words(period: str) -> str:
    return {"month": "last 30 days", "quarter": "last quarter", "year": "last 12 months"}.get(
        period, f"last {PERIODS[period]} days"
    )


def _usage(command: str) -> str:
    return {
        "health": "health <account>",
        "value": "value <account> [7d|30d|90d|quarter|year]",
        "forecast": "forecast <account>",
        "tier": "steward tier <account>",
    }[command]


def from_button(value: str, user: Person) -> CommandRequest:
    """The request a button's value stands for (see :class:`ButtonValue`)."""
    button = ButtonValue.decode(value)
    period = button.period or ""
    if button.command == "tier":
        return CommandRequest("steward", f"tier {period}".strip(), user, button.account_id)
    return CommandRequest(button.command, period, user, account_id=button.account_id)


def choice_card(command: str, match: Match, period: str | None) -> Card:
    """An ambiguous name offers its candidates; an unknown one says so and suggests."""
    buttons = tuple(
        Button(name[:70], CHOICE, ButtonValue(command, account_id, period).encode())
        for account_id, name in match.choices
    )
    if match.total:
        more = f" (the first {len(match.choices)} of {match.total})" if match.total > 5 else ""
        return Card(
            title=f"Which account did you mean by “{match.query}”?",
            summary=f"“{match.query}” matches several accounts{more}: pick one.",
            buttons=buttons,
        )
    closest = ", ".join(name for _, name in match.choices) or "none"
    return Card(
        title=f"No account matches “{match.query}”",
        summary=f"No account matches “{match.query}”. Closest names: {closest}.",
        buttons=buttons,
    )


SUBSCRIPTION_CARDS = {
    "subscribe": subscriptions.subscribe_card,
    "unsubscribe": subscriptions.unsubscribe_card,
    "subscriptions": subscriptions.subscriptions_card,
    "follow": follows.follow_card,
    "unfollow": follows.unfollow_card,
    "follows": follows.follows_card,
}

HELP = (
    ("/health <account>", "health score, why it moved, risks, opportunities and usage chart"),
    ("/value <account> [7d|30d|90d|quarter|year]", "value realized, outcomes per spend, peers"),
    ("/forecast <account>", "commit burndown, when it runs out, month-end spend vs budget"),
    ("/steward book [@user]", "the accounts a CSM or AE owns, weakest first"),
    ("/steward risks", "the accounts most likely to churn, and why"),
    ("/steward expansions", "the accounts most likely to expand, and why"),
    ("/steward tier <account>", "the service tier and why it is what it is"),
    ("/steward digest", "a preview of today's digest"),
    (
        "/steward ask <question>",
        "a free-form question, answered from Steward's figures (every number in the answer "
        "is checked against Steward's data)",
    ),
    (
        SUBSCRIBE_USAGE,
        "post digests, manager digests or alerts here, at the local time and time zone given "
        "(yours by default); quiet hours hold alerts; in a direct message with Steward, only "
        "digest or alerts of my book, posted to that message",
    ),
    (UNSUBSCRIBE_USAGE, "stop one kind here, or every kind without one"),
    ("/steward subscriptions", "this conversation's subscriptions, and how many others have"),
    (
        "/steward follow <account>, unfollow <account>, follows",
        "alerts about the accounts you follow, sent to you directly (your direct message "
        "with Steward)",
    ),
    ("/steward help", "this list"),
)
FOOTERS = {
    "teams": "Everyone in this conversation sees Steward's answers. In a channel, mention "
    "@Steward first; in a personal chat with Steward, just type.",
    "": "Answers are visible only to you until you press Share.",
}


def help_lines(platform: str = "") -> tuple[str, ...]:
    """Every command with what it answers, typed as ``platform`` takes it."""
    return tuple(f"{typed(usage, platform)}: {what}" for usage, what in HELP)


def help_card(problem: str | None = None, platform: str = "") -> Card:
    """What Steward can be asked, after what went wrong (if anything), in the words of the
    platform it is asked on."""
    summary = (problem + " " if problem else "") + "Here is what Steward answers."
    return Card(
        title="Steward commands",
        summary=summary,
        sections=(
            Section(text=problem or "Account names match loosely: acme finds Acme Corp."),
            Section(items=help_lines(platform)),
        ),
        footer=FOOTERS.get(platform, FOOTERS[""]),
    )
