"""Teams cards as people see them: Microsoft's Adaptive Cards renderer in headless Chromium.

Run from the repository root, after `steward demo --no-input` (it reads the demo book):

    npm install --prefix .cache/teams-cards adaptivecards@3 markdown-it@14   # once
    .venv/bin/python bench/teams_cards.py [--database steward-demo.db]
        [--out .cache/teams-cards/shots] [--widths 360,500,760]

Each card Steward sends on Teams (health, forecast, value, a choice of accounts, help,
risks, the digest preview and the newest alert and digest in the outbox) is rendered
with the `adaptivecards` JavaScript renderer (the one Microsoft publishes; Teams' own
is close to it) at each width, with a host config of Teams' light theme. For each it
prints the card's height in pixels and every button whose title does not fit (the
renderer cuts it to "Acknowl..."), and saves a PNG screenshot to look at.

Needs Chromium (Debian: `apt-get install chromium`) and Node's `adaptivecards`
package; nothing here is on Steward's path at run time.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.teams.render import to_card
from core.messages import Card, card_from_dict
from core.settings import load_settings
from demo.build import database_url
from handlers.chat.commands import handle, without_share
from handlers.chat.context import CommandRequest, Context, Person
from services.container import utc_now
from storage.db import make_engine, read_connection
from storage.tables import outbox

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "teams-cards"
ASKER = Person("29:1casey", email="casey@example.com", name="Casey")
# Teams' light theme: Segoe-like font, 14 px body, its text and accent colours.
HOST_CONFIG: dict[str, Any] = {
    "fontFamily": "'Segoe UI', system-ui, sans-serif",
    "fontSizes": {"small": 12, "default": 14, "medium": 14, "large": 18, "extraLarge": 24},
    "fontWeights": {"lighter": 300, "default": 400, "bolder": 600},
    "spacing": {"small": 8, "default": 12, "medium": 16, "large": 20, "extraLarge": 24},
    "actions": {"maxActions": 6, "buttonSpacing": 8, "actionsOrientation": "horizontal"},
    "containerStyles": {
        "default": {
            "backgroundColor": "#FFFFFF",
            "foregroundColors": {
                "default": {"default": "#242424", "subtle": "#616161"},
                "attention": {"default": "#C4314B", "subtle": "#C4314B"},
                "good": {"default": "#237B4B", "subtle": "#237B4B"},
                "warning": {"default": "#835C00", "subtle": "#835C00"},
            },
        }
    },
}


def cards(database: Path) -> list[tuple[str, Card]]:
    """The cards to look at, from the demo book."""
    settings = load_settings(database_url=database_url(database))
    engine = make_engine(settings.database_url)
    ctx = Context(engine=engine, config=settings.scoring_config(), now=utc_now())

    def ask(command: str, text: str) -> Card:  # as the Teams adapter answers: no Share
        return without_share(handle(CommandRequest(command, text, ASKER, platform="teams"), ctx))

    with read_connection(engine) as conn:
        rows = conn.execute(outbox.select().order_by(outbox.c.id.desc())).mappings()
        newest: dict[str, Card] = {}
        for row in rows:
            newest.setdefault(str(row["kind"]), card_from_dict(row["card"]))
    name = "River Energy GmbH"
    found = [
        ("health", ask("health", name)),
        ("forecast", ask("forecast", name)),
        ("value", ask("value", name)),
        ("choice", ask("health", "apex")),
        ("help", ask("steward", "help")),
        ("risks", ask("steward", "risks")),
        ("digest-preview", ask("steward", "digest")),
    ]
    found += [(f"outbox-{kind}", card) for kind, card in sorted(newest.items())]
    engine.dispose()
    return found


PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="{markdown}"></script>
<script src="{script}"></script>
<style>body{{margin:0;background:#f5f5f5}} #card{{width:{width}px;background:#fff}}</style>
</head><body><div id="card"></div><pre id="report"></pre><script>
// Teams reads TextBlocks as markdown (Steward escapes customer text for it): so does this page.
const md = window.markdownit();
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {{
  result.outputHtml = md.renderInline(text); result.didProcess = true; }};
const card = new AdaptiveCards.AdaptiveCard();
card.hostConfig = new AdaptiveCards.HostConfig({host});
card.parse({card});
const el = card.render();
document.getElementById("card").appendChild(el);
const cut = [...el.querySelectorAll("button")].filter(b => b.scrollWidth > b.clientWidth + 1
  || [...b.querySelectorAll("*")].some(c => c.scrollWidth > c.clientWidth + 1))
  .map(b => b.textContent);
document.getElementById("report").textContent =
  JSON.stringify({{height: el.getBoundingClientRect().height, cut: cut}});
</script></body></html>"""


def measure(
    chromium: str, script: Path, card: dict[str, Any], width: int, shot: Path
) -> dict[str, Any]:
    """Render one card at one width: its height and its cut buttons; save a screenshot."""
    page = PAGE.format(
        script=script.as_uri(),
        markdown=(script.parents[2] / "markdown-it" / "dist" / "markdown-it.min.js").as_uri(),
        width=width,
        host=json.dumps(HOST_CONFIG),
        card=json.dumps(card),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "card.html"
        path.write_text(page, encoding="utf-8")
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        dom = subprocess.run(
            [*base, "--dump-dom", path.as_uri()], capture_output=True, text=True, check=True
        ).stdout
        start = dom.index('<pre id="report">') + len('<pre id="report">')
        report: dict[str, Any] = json.loads(html.unescape(dom[start : dom.index("</pre>", start)]))
        height = int(report["height"]) + 8
        subprocess.run(
            [*base, f"--screenshot={shot}", f"--window-size={width},{height}", path.as_uri()],
            capture_output=True,
            check=True,
        )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=Path, default=Path("steward-demo.db"))
    parser.add_argument("--out", type=Path, default=CACHE / "shots")
    parser.add_argument("--widths", default="360,500,760")
    parser.add_argument("--node-modules", type=Path, default=CACHE / "node_modules")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    script = args.node_modules / "adaptivecards" / "dist" / "adaptivecards.min.js"
    if chromium is None or not script.exists():
        raise SystemExit(
            "Needs chromium on PATH and "
            f"{script} (npm install --prefix {CACHE} adaptivecards@3 markdown-it@14)."
        )
    if not args.database.exists():
        raise SystemExit(f"No demo book at {args.database}: run `steward demo --no-input` first.")
    widths = [int(w) for w in args.widths.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"| card | {' | '.join(f'{w} px: height, cut buttons' for w in widths)} |")
    print(f"| --- | {' | '.join('---' for _ in widths)} |")
    for name, card in cards(args.database):
        rendered = to_card(card)
        cells = []
        for width in widths:
            report = measure(chromium, script, rendered, width, args.out / f"{name}-{width}.png")
            cut = ", ".join(report["cut"]) or "none"
            cells.append(f"{report['height']:.0f} px, {cut}")
        print(f"| {name} | {' | '.join(cells)} |", flush=True)
    print(f"\nScreenshots in {args.out}")


if __name__ == "__main__":
    main()
