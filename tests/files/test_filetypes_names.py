"""Summary files: the extension must match the detected type, Office files with macros are
refused, and every file is served under a name the service derives (issue 29)."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import unquote

import pytest

from tests.conftest import Walker, World, error_of, tiny_jpeg
from workflows.files import filetypes

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _docx(*, macro: bool = False, content_type: str = "document.main") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        kind = (
            "application/vnd.ms-word.document.macroEnabled.main+xml"
            if content_type == "macro"
            else "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
        )
        archive.writestr(
            "[Content_Types].xml",
            f'<Types><Override PartName="/word/document.xml" ContentType="{kind}"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
        if macro:
            archive.writestr("word/vbaProject.bin", b"\x00VBA")
    return buffer.getvalue()


def _upload(walker: Walker, event_id: int, name: str, data: bytes):
    return walker.client.post(
        f"/api/v1/events/{event_id}/summary/attachments",
        files={"file": (name, data, "application/octet-stream")},
        params=walker.version_of(event_id),
        headers=walker.world.headers["housing"],
    )


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("setup.msi", OLE2, "file_extension_mismatch"),
        ("总结.hta", PDF, "file_extension_mismatch"),
        ("run.js", PDF, "file_extension_mismatch"),
        ("总结", PDF, "file_extension_mismatch"),
        ("总结.pdf", _docx(), "file_extension_mismatch"),
        ("宏.docm", _docx(macro=True), "file_extension_mismatch"),
        ("宏.docx", _docx(macro=True), "file_macro_refused"),
        ("宏类型.docx", _docx(content_type="macro"), "file_macro_refused"),
        ("宏.xls", OLE2 + "_VBA_PROJECT".encode("utf-16-le"), "file_macro_refused"),
    ],
)
def test_names_that_do_not_match_the_content_and_macros_are_refused(
    walker: Walker, name: str, data: bytes, code: str
) -> None:
    event, _ = walker.held_event()
    response = _upload(walker, event["id"], name, data)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == code and error["message"] and error["message_en"]


def test_files_are_served_under_a_name_the_service_derives(walker: Walker, world: World) -> None:
    event, _ = walker.held_event()
    served = {}
    for name, data in (("我的总结.docx", _docx()), ("照片.png", tiny_jpeg()), ("旧.xls", OLE2)):
        response = _upload(walker, event["id"], name, data)
        assert response.status_code == 201, response.text
        body = response.json()
        got = walker.client.get(
            f"/api/v1/events/{event['id']}/summary/attachments/{body['id']}",
            headers=world.headers["housing"],
        )
        assert got.status_code == 200
        served[name] = (body["id"], unquote(got.headers["content-disposition"]))
    for name, ext in (("我的总结.docx", "docx"), ("照片.png", "jpg"), ("旧.xls", "xls")):
        n, disposition = served[name]
        assert disposition.startswith("attachment")
        assert f"总结-{event['id']}-{n}.{ext}" in disposition and name not in disposition


def test_extension_helpers() -> None:
    assert filetypes.extension("a.B.PDF") == "pdf" and filetypes.extension(".pdf") == ""
    assert filetypes.served_extension("image/png", "x.jpg") == "png"
    assert filetypes.served_extension("application/msword", "x.ppt") == "ppt"
    assert filetypes.served_extension("application/msword", "x.msi") == "doc"
