"""What an uploaded file really is, from its bytes; what each purpose accepts; clean names.

The uploader's content type and file name say nothing trustworthy: the type is detected from
the content (magic bytes), an image is re-checked by a real decoder (Pillow's verify), and the
detected type is what the file is stored and served as. Purposes accept an allow-list:
summary attachments take images, PDF and office documents; site-visit photos take images.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from workflows.kernel.errors import InvalidData

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/msword",  # legacy .doc/.xls/.ppt share one container (OLE2)
    }
)
ALLOWED = {
    "attachment": IMAGE_TYPES | DOCUMENT_TYPES,
    "photo": IMAGE_TYPES,
}
_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) make "gpj.exe" read as
# "exe.jpg"; control characters and path separators have no place in a name either.
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


@dataclass(frozen=True)
class Detected:
    """A file's detected type and whether it is a photo."""

    content_type: str

    @property
    def is_image(self) -> bool:
        """Images are shown as photos."""
        return self.content_type in IMAGE_TYPES


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves announce, or None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/msword"
    if head.startswith(b"PK\x03\x04"):
        return _ooxml(data)
    return None


def _ooxml(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, kind in _OOXML.items():
        if any(n.startswith(prefix) for n in names):
            return kind
    return None


def _image_ok(data: bytes) -> bool:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > 100_000_000:  # a decompression bomb
                return False
            image.verify()
        return True
    except Exception:  # Pillow raises many types for broken or hostile images
        return False


def detect(data: bytes, purpose: str, filename: str) -> Detected:
    """The detected type of an upload, or 422 when it is not one the purpose accepts."""
    kind = sniff(data)
    allowed = ALLOWED[purpose]
    if kind is None or kind not in allowed:
        what_zh = (
            "图片（JPEG、PNG、GIF、WebP）" if purpose == "photo" else "图片、PDF 或 Office 文档"
        )
        what_en = (
            "an image (JPEG, PNG, GIF, WebP)"
            if purpose == "photo"
            else ("an image, a PDF or an Office document")
        )
        raise InvalidData(
            "file_type_not_allowed",
            f"“{filename}”的内容不是允许的类型：请上传{what_zh}",
            f'"{filename}" is not an accepted type: upload {what_en}',
            details={"detected": kind or "unknown", "allowed": sorted(allowed)},
        )
    if kind in IMAGE_TYPES and not _image_ok(data):
        raise InvalidData(
            "image_invalid",
            f"“{filename}”不是有效的图片（无法解码）",
            f'"{filename}" is not a valid image (it does not decode)',
            details={"detected": kind},
        )
    return Detected(kind)


def clean_filename(name: str) -> str:
    """The last path part of an uploaded name, without control or bidirectional characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub("", name).strip()[:255] or "attachment"
