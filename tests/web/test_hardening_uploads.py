"""Uploads: type from the content, allow-list, images decoded, served as attachments with the
detected type, names cleaned, unreferenced files removed (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Walker, World, error_of, tiny_jpeg
from workflows.files.filetypes import clean_filename, detect, sniff

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(walker: Walker, event_id: int, name: str, data: bytes, ctype: str):
    return walker.client.post(
        f"/api/v1/events/{event_id}/summary/attachments",
        files={"file": (name, data, ctype)},
        params=walker.version_of(event_id),
        headers=walker.world.headers["housing"],
    )


@pytest.mark.parametrize(
    ("name", "data", "ctype", "code"),
    [
        ("x.html", b"<html><script>alert(1)</script></html>", "text/html", "file_type_not_allowed"),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
         "image/svg+xml", "file_type_not_allowed"),
        ("fake.jpg", b"\xff\xd8\xff\xe0not really a jpeg", "image/jpeg", "image_invalid"),
        ("truncated.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "image_invalid"),
        ("a.exe", b"MZ\x90\x00", "image/jpeg", "file_type_not_allowed"),
    ],
)  # fmt: skip
def test_hostile_uploads_are_refused(
    walker: Walker, world: World, name: str, data: bytes, ctype: str, code: str
) -> None:
    event, _ = walker.held_event()
    response = _upload(walker, event["id"], name, data, ctype)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == code
    assert error["message"] and error["message_en"]


def test_served_with_detected_type_as_attachment(walker: Walker, world: World) -> None:
    event, _ = walker.held_event()
    # a PDF claimed as HTML is stored and served as a PDF
    response = _upload(walker, event["id"], "报告\u202efdp.pdf", PDF, "text/html")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "报告fdp.pdf"
    assert body["content_type"] == "application/pdf" and body["kind"] == "file"
    got = walker.client.get(
        f"/api/v1/events/{event['id']}/summary/attachments/{body['id']}",
        headers=world.headers["housing"],
    )
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment")
    photo = _upload(walker, event["id"], "现场.png", tiny_jpeg(), "image/png").json()
    assert photo["content_type"] == "image/jpeg" and photo["kind"] == "photo"


def test_deleted_files_leave_the_disk_unless_shared(walker: Walker, world: World) -> None:
    event, _ = walker.held_event()
    store = Path(walker.client.app.state.settings.upload_dir)  # type: ignore[attr-defined]
    first = _upload(walker, event["id"], "a.jpg", tiny_jpeg(5, 5), "image/jpeg").json()
    second = _upload(walker, event["id"], "b.jpg", tiny_jpeg(5, 5), "image/jpeg").json()
    files = [p for p in store.rglob("*") if p.is_file()]
    assert len(files) == 1  # same bytes stored once

    def delete(attachment_id: int) -> None:
        response = walker.client.delete(
            f"/api/v1/events/{event['id']}/summary/attachments/{attachment_id}",
            params=walker.version_of(event["id"]),
            headers=world.headers["housing"],
        )
        assert response.status_code == 204, response.text

    delete(first["id"])
    assert files[0].exists()  # still referenced by the second attachment
    delete(second["id"])
    assert not files[0].exists()


def test_sniff_and_names() -> None:
    assert sniff(tiny_jpeg()) == "image/jpeg"
    assert sniff(PDF) == "application/pdf"
    assert sniff(b"<html>") is None
    assert detect(tiny_jpeg(), "photo", "x").content_type == "image/jpeg"
    with pytest.raises(ValueError):
        detect(PDF, "photo", "x.pdf")
    assert clean_filename("..\\..\\evil\u2066\u202d.jpg\x00") == "evil.jpg"
    assert clean_filename("\u202e") == "attachment"


def test_security_headers_everywhere(walker: Walker, world: World) -> None:
    cases = [
        ("/api/v1/events", world.headers["viewer"]),
        ("/api/v1/nowhere", {}),
        ("/login", {}),
        ("/docs", {}),
    ]
    for url, headers in cases:
        response = walker.client.get(url, headers=headers)
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        if url != "/docs":
            assert "script-src 'self'" in csp and "script-src 'self' 'unsafe-inline'" not in csp
        if url.startswith("/api/"):
            assert response.headers["cache-control"] == "no-store"
    too_big = walker.client.post("/api/v1/events", content=b"x" * (2 << 20))
    assert too_big.status_code == 413
    assert too_big.headers["x-frame-options"] == "DENY"


def test_pages_have_no_inline_scripts() -> None:
    """The CSP allows no inline script: the templates must not carry any."""
    import re

    from settings import PROJECT_DIR

    for template in (PROJECT_DIR / "pages" / "templates").rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script[^>]*>", text):
            assert "src=" in tag, (template, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), template
