"""What the logs keep and leave out: phone numbers masked, ids and keys readable, transitions'
per-callback chatter silenced, every refusal one line with its code and actor."""

from __future__ import annotations

import logging

import structlog
from structlog.testing import capture_logs

from settings import Settings, configure_logging
from tests.conftest import Walker
from workers.channels.base import mask_text


def test_the_masker_hides_phone_numbers_and_leaves_ids_and_keys_alone() -> None:
    """Mobiles and landlines are masked; ids, timestamps and keys made of digits are not."""
    assert mask_text("电话 13812345678") == "电话 138****5678"
    assert mask_text("+86 13912345678") == "+86********5678"
    assert "12345678" not in mask_text("座机 028-12345678")
    for kept in (
        "feedback_item:12345678:escalation:1",
        "event 1234567 unit 98765432",
        "notification key summary:20220916:level2",
        "at 1663300000000 ms",
        "od_ab13812345678cd",
    ):
        assert mask_text(kept) == kept


def test_transitions_callback_lines_are_silenced(tmp_path) -> None:
    """transitions logs each callback at INFO; configure_logging raises it to WARNING."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    try:
        configure_logging(Settings(var_dir=tmp_path, log_format="json", log_level="INFO"))
        assert not logging.getLogger("transitions.core").isEnabledFor(logging.INFO)
        assert logging.getLogger("transitions.core").isEnabledFor(logging.WARNING)
        assert logging.getLogger("openday.api").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.configure(**saved[2])


def test_refusals_are_logged_with_code_and_actor(walker: Walker) -> None:
    """A viewer's refused change and an anonymous request each give one `refused` line."""
    with capture_logs() as logs:
        walker.client.patch(
            "/api/v1/me", json={"display_name": "x"}, headers=walker.world.headers["viewer"]
        )
        walker.client.get("/api/v1/events")
    refused = [e for e in logs if e["event"] == "refused"]
    assert [(e["code"], e["status"], e["actor"]) for e in refused] == [
        ("read_only", 403, "viewer (viewer)"),
        ("not_authenticated", 401, "anonymous"),
    ]
