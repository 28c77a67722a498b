"""Evidence checks on summaries: JPEGs generated with Pillow carrying EXIF DateTimeOriginal,
uploaded through the API. Photos taken on another day, without a date, or identical to a photo
of another event are flagged (never refused) on the board's spot-check queue, in the report
and through the API, beside the summary's submission against its deadline."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import ExifTags, Image

from tests.conftest import Walker, World, error_of, local
from tests.pages.test_reports_pages import _supervisor
from workflows.oversight.evidence import parse_exif_time

DAY_HELD, DAY_BEFORE = "2022:09:16 10:05:00", "2022:09:15 16:00:00"


def jpeg(color: tuple[int, int, int], taken: str | None) -> bytes:
    """A small JPEG; with `taken` ('YYYY:MM:DD HH:MM:SS') as its EXIF DateTimeOriginal."""
    out = io.BytesIO()
    image = Image.new("RGB", (16, 12), color)
    if taken is None:
        image.save(out, "JPEG")
    else:
        exif = Image.Exif()
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
        image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _upload(walker: Walker, event_id: int, name: str, data: bytes) -> int:
    r = walker.client.post(
        f"/api/v1/events/{event_id}/summary/attachments",
        files={"file": (name, data, "image/jpeg")},
        params=walker.version_of(event_id),
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 201, r.text  # flagged later, never refused
    return r.json()["id"]


def _story(walker: Walker) -> dict[str, int]:
    """Event 1 held 2022-09-16: one photo of that day, one of the day before, one without a
    date, and one reused by event 2 (held the same day, otherwise clean)."""
    first, _ = walker.held_event()
    second, _ = walker.held_event()
    shared = jpeg((10, 200, 10), "2022:09:16 09:30:00")
    ids = {
        "first": first["id"],
        "second": second["id"],
        "good": _upload(walker, first["id"], "会场.jpg", jpeg((200, 10, 10), DAY_HELD)),
        "other_day": _upload(walker, first["id"], "前一天.jpg", jpeg((10, 10, 200), DAY_BEFORE)),
        "no_date": _upload(walker, first["id"], "无日期.jpg", jpeg((90, 90, 90), None)),
        "shared_1": _upload(walker, first["id"], "合影.jpg", shared),
        "shared_2": _upload(walker, second["id"], "合影.jpg", shared),
    }  # fmt: skip
    r = walker.move(first["id"], "collect_feedback", data={"items": [{"content": "建议"}]})
    assert r.status_code == 200, r.text
    r = walker.move(first["id"], "submit_summary", data={"text": "活动总结"})
    assert r.status_code == 200, r.text
    return ids


def test_photos_flagged_by_exif_day_missing_date_and_reuse(walker: Walker, clock) -> None:
    ids = _story(walker)
    h = walker.world.headers
    r = walker.client.get(f"/api/v1/events/{ids['first']}/evidence", headers=h["supervisor"])
    assert r.status_code == 200, r.text
    body = r.json()
    flags = {p["attachment_id"]: p["flags"] for p in body["photos"]}
    assert flags == {
        ids["good"]: [],
        ids["other_day"]: ["other_day"],
        ids["no_date"]: ["no_date"],
        ids["shared_1"]: ["duplicate"],
    }
    shared = next(p for p in body["photos"] if p["attachment_id"] == ids["shared_1"])
    assert shared["same_as"] == [{"event_id": ids["second"], "attachment_id": ids["shared_2"]}]
    taken = next(p for p in body["photos"] if p["attachment_id"] == ids["other_day"])["taken_at"]
    assert taken.startswith("2022-09-15T16:00")
    assert body["flagged"] is True and body["flag_counts"] == {
        "other_day": 1, "no_date": 1, "duplicate": 1,
    }  # fmt: skip
    # Submitted 2022-09-16 10:00, due by the end of 2022-09-19 (3 working days): on time.
    assert body["summary"]["late_hours"] < 0
    assert body["summary"]["text"].startswith(
        "总结报送于 2022年9月16日（星期五）10:00，截止 2022年9月19日（星期一）当天"
    )
    assert body["summary"]["text"].endswith("按时")
    assert any("前一天.jpg" in n and "2022年9月15日（星期四）16:00" in n for n in body["notes"])

    other = walker.client.get(f"/api/v1/events/{ids['second']}/evidence", headers=h["housing"])
    assert other.json()["photos"][0]["flags"] == ["duplicate"]
    assert other.json()["summary"]["text"].startswith("总结尚未报送")
    cid = walker.world.campaign_id
    listed = walker.client.get(f"/api/v1/campaigns/{cid}/evidence", headers=h["supervisor"])
    assert [e["event_id"] for e in listed.json()["items"]] == [ids["first"], ids["second"]]
    staff = walker.client.get(f"/api/v1/campaigns/{cid}/evidence", headers=h["shiling"])
    assert staff.json()["items"] == []
    hidden = walker.client.get(f"/api/v1/events/{ids['first']}/evidence", headers=h["shiling"])
    assert hidden.status_code == 404
    missing = walker.client.get("/api/v1/campaigns/999/evidence", headers=h["supervisor"])
    assert missing.status_code == 404 and error_of(missing)["code"] == "campaign_not_found"


def test_a_late_summary_shows_its_lateness_beside_the_flags(walker: Walker, clock) -> None:
    event, _ = walker.held_event()
    _upload(walker, event["id"], "x.jpg", jpeg((1, 2, 3), "2022:09:16 10:00:00"))
    clock.set(local(2022, 9, 21, 9))
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "建议"}]})
    assert r.status_code == 200, r.text
    assert walker.move(event["id"], "submit_summary", data={"text": "迟交"}).status_code == 200
    r = walker.client.get(
        f"/api/v1/events/{event['id']}/evidence", headers=walker.world.headers["supervisor"]
    )
    body = r.json()
    assert body["flagged"] is False and body["photos"][0]["flags"] == []
    assert body["summary"]["late_hours"] > 24 and "逾期" in body["summary"]["text"]


def test_board_queue_and_report_page_show_the_flags(walker: Walker, world: World, clock) -> None:
    ids = _story(walker)
    _supervisor(walker, world)
    board = walker.client.get("/board/spot-checks").text
    start = board.index(f'id="evidence-{ids["first"]}"')
    card = board[start : board.index("</div>", start)]
    assert "图文资料待核实" in card and "前一天.jpg" in card and "无拍摄日期" in card
    assert f"与活动 {ids['second']} 的照片相同" in card and "按时" in card
    # The spot-check form is still there: flags never block the check.
    assert f'action="/board/spot-check/{ids["first"]}"' in board
    page = walker.client.get(f"/board/report?campaign={world.campaign_id}").text
    assert "图文资料核验（2 个活动待核实）" in page and "前一天.jpg" in page


def test_exif_time_parsing_is_strict() -> None:
    assert parse_exif_time("2022:09:16 10:05:00\x00") == datetime(2022, 9, 16, 10, 5)
    assert parse_exif_time(b"2022:09:16 10:05:00") == datetime(2022, 9, 16, 10, 5)
    assert parse_exif_time("0000:00:00 00:00:00") is None
    assert parse_exif_time("    :  :     :  :  ") is None
    assert parse_exif_time(None) is None


def zoned_jpeg(taken: str, *, original: str | None = None, plain: str | None = None) -> bytes:
    """A JPEG whose DateTimeOriginal carries OffsetTimeOriginal and/or OffsetTime."""
    out = io.BytesIO()
    exif = Image.Exif()
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = taken
    if original is not None:
        ifd[ExifTags.Base.OffsetTimeOriginal] = original
    if plain is not None:
        ifd[ExifTags.Base.OffsetTime] = plain
    Image.new("RGB", (16, 12), (5, 6, 7)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_photo_dates_follow_the_exif_time_zone(walker: Walker, clock) -> None:
    """Held 2022-09-16 (Shanghai). A camera set to UTC writes 2022:09:15 23:30 +00:00 for
    07:30 Shanghai on the day: same day, not flagged. OffsetTime stands in when
    OffsetTimeOriginal is missing; with neither, camera time is Shanghai time and the
    evidence says so."""
    event, _ = walker.held_event()
    eid = event["id"]
    late = "2022:09:15 23:30:00"
    ids = {
        "utc": _upload(walker, eid, "UTC相机.jpg", zoned_jpeg(late, original="+00:00")),
        "plain": _upload(walker, eid, "仅OffsetTime.jpg", zoned_jpeg(late, plain="+00:00")),
        "wins": _upload(
            walker, eid, "两者.jpg",
            zoned_jpeg("2022:09:16 23:30:00", original="+00:00", plain="+08:00"),
        ),
        "none": _upload(walker, eid, "无时区.jpg", zoned_jpeg(late)),
    }  # fmt: skip
    r = walker.client.get(
        f"/api/v1/events/{eid}/evidence", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    photos = {p["attachment_id"]: p for p in body["photos"]}
    assert photos[ids["utc"]]["flags"] == []
    assert photos[ids["utc"]]["taken_at"].startswith("2022-09-16T07:30:00+08:00")
    assert photos[ids["utc"]]["zone_assumed"] is False
    assert photos[ids["plain"]]["flags"] == []
    # OffsetTimeOriginal wins over OffsetTime: 23:30 UTC on the 16th is the 17th in Shanghai.
    assert photos[ids["wins"]]["flags"] == ["other_day"]
    assert photos[ids["none"]]["flags"] == ["other_day"]
    assert photos[ids["none"]]["zone_assumed"] is True
    assert photos[ids["none"]]["taken_at"].startswith("2022-09-15T23:30:00+08:00")
    assert any("无时区.jpg" in n and "相机未记录时区，按北京时间计" in n for n in body["notes"]), (
        body["notes"]
    )
    assert not any("UTC相机.jpg" in n for n in body["notes"])
