"""What an uploaded file really is, from its bytes; what each purpose accepts; clean names.

The uploader's content type and file name say nothing trustworthy: the type is detected from
the content (magic bytes), an image is re-checked by a real decoder (Pillow's verify), and the
detected type is what the file is stored and served as. Purposes accept an allow-list:
summary attachments take images, PDF and office documents; site-visit photos take images. An
attachment's name must carry an extension of its detected type, Office files with macros are
refused, and files are served under a name the service derives (workflows/event/summary.py).
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
_DOCX, _XLSX, _PPTX = (_OOXML["word/"], _OOXML["xl/"], _OOXML["ppt/"])
# The extensions a name may carry for each detected type; the first is the one files are served
# under. Images accept any image extension (phones and editors save a JPEG as .png often, and a
# photo is served under its detected type's extension anyway); a document's extension must name
# its own kind, so `setup.msi`, `run.js` or `总结.hta` with a PDF's leading bytes are refused.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("jpg", "jpeg", "png", "gif", "webp"),
    "image/png": ("png", "jpg", "jpeg", "gif", "webp"),
    "image/gif": ("gif", "jpg", "jpeg", "png", "webp"),
    "image/webp": ("webp", "jpg", "jpeg", "png", "gif"),
    "application/pdf": ("pdf",),
    _DOCX: ("docx",),
    _XLSX: ("xlsx",),
    _PPTX: ("pptx",),
    "application/msword": ("doc", "xls", "ppt"),
}
# A VBA project: its part in an OOXML zip, its stream's name (UTF-16) in an OLE2 directory.
_OLE2_VBA = "_VBA_PROJECT".encode("utf-16-le")
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


def extension(filename: str) -> str:
    """The lower-case extension of a name, without the dot ('' when it has none)."""
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def macro_enabled(data: bytes, kind: str) -> bool:
    """True for an Office file that carries macros (a VBA project or a macro-enabled type)."""
    if kind == "application/msword":
        return _OLE2_VBA in data
    if kind not in (_DOCX, _XLSX, _PPTX):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if any(n.lower().endswith("vbaproject.bin") for n in archive.namelist()):
                return True
            types = archive.read("[Content_Types].xml")[:1_000_000]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return True  # not a readable Office file: refuse rather than guess
    return b"macroenabled" in types.lower() or b"vbaproject" in types.lower()


def served_extension(content_type: str, filename: str) -> str:
    """The extension a file of this detected type is served under (the uploader's when the
    type covers several, as legacy Office does, and it is one of them)."""
    known = EXTENSIONS.get(content_type, ("bin",))
    given = extension(filename)
    if content_type == "application/msword" and given in known:
        return given
    return known[0]


def _check_name(kind: str, filename: str, data: bytes) -> None:
    given = extension(filename)
    if given not in EXTENSIONS.get(kind, ()):
        wanted = "、".join(f".{e}" for e in EXTENSIONS.get(kind, ()))
        raise InvalidData(
            "file_extension_mismatch",
            f"“{filename}”的扩展名与文件内容不符：此类文件的扩展名应为 {wanted}",
            f'the extension of "{filename}" does not match its content (expected {wanted})',
            details={"detected": kind, "extension": given, "allowed": list(EXTENSIONS[kind])},
        )
    if macro_enabled(data, kind):
        raise InvalidData(
            "file_macro_refused",
            f"“{filename}”含有宏，不予接收：请另存为不含宏的文档（如 .docx、.xlsx）后上传",
            f'"{filename}" contains macros and is refused: save it without macros and upload that',
            details={"detected": kind},
        )


def detect(data: bytes, purpose: str, filename: str) -> Detected:
    """The detected type of an upload, or 422 when it is not one the purpose accepts; an
    attachment's name must also carry an extension of its detected type, and Office files with
    macros are refused."""
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
    if purpose == "attachment":
        _check_name(kind, filename, data)
    return Detected(kind)


def clean_filename(name: str) -> str:
    """The last path part of an uploaded name, without control or bidirectional characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub("", name).strip()[:255] or "attachment"
