"""Teams conversation references and chart images, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from storage import teams
from storage.db import read_connection, write_transaction

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def chat(**fields: object) -> teams.Conversation:
    values: dict[str, object] = {
        "conversation_id": "a:1casey",
        "service_url": "https://smba.trafficmanager.net/amer/",
        "kind": "personal",
        "bot_id": "28:bot",
        "tenant_id": "tenant-1",
        "user_id": "29:casey",
        "user_aad_id": "AAD-CASEY",
        "user_name": "Casey",
    }
    values.update(fields)
    return teams.Conversation(**values)  # type: ignore[arg-type]


def test_a_later_activity_refreshes_the_reference_and_keeps_what_it_does_not_say(
    db: Engine,
) -> None:
    with write_transaction(db) as conn:
        teams.remember(conn, chat(user_email="Casey@Example.com"), now=NOW)
        # the next activity comes from another region and carries no email
        moved = chat(service_url="https://smba.trafficmanager.net/emea/", user_email=None)
        teams.remember(conn, moved, now=NOW + timedelta(hours=1))
    with read_connection(db) as conn:
        found = teams.get(conn, "a:1casey")
        by_email = teams.personal_chat(conn, "casey@example.com")
        by_aad = teams.personal_chat(conn, "aad-casey")
        nobody = teams.personal_chat(conn, "Casey")  # a display name is not enough
    assert found is not None
    assert found.service_url == "https://smba.trafficmanager.net/emea/"
    assert found.user_email == "Casey@Example.com"
    assert by_email == found
    assert by_aad == found
    assert nobody is None


def test_an_uninstalled_personal_chat_is_not_a_way_to_reach_someone(db: Engine) -> None:
    with write_transaction(db) as conn:
        teams.remember(conn, chat(user_email="casey@example.com"), now=NOW)
        teams.set_installed(conn, "a:1casey", False, now=NOW)
    with read_connection(db) as conn:
        assert teams.personal_chat(conn, "casey@example.com") is None
        gone = teams.get(conn, "a:1casey")
    assert gone is not None
    assert gone.installed is False


def test_chart_images_are_kept_by_unguessable_id_and_pruned(db: Engine) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    with write_transaction(db) as conn:
        old = teams.put_chart(conn, png, now=NOW - timedelta(days=40))
        new = teams.put_chart(conn, png, now=NOW)
    assert old != new
    assert len(new) >= 32
    with write_transaction(db) as conn:
        assert teams.prune_charts(conn, before=NOW - timedelta(days=30)) == 1
    with read_connection(db) as conn:
        assert teams.get_chart(conn, old) is None
        assert teams.get_chart(conn, new) == png
