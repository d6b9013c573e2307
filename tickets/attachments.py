"""Attachment rules: which files are accepted, how large, and where they are stored.

Files are stored under ``customers/<schema>/...`` (see ``tickets.models.attachment_path``) and
are only ever served through views that check the ticket's visibility first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse

from accounts.models import User
from tenants.models import Customer
from tickets.models import Attachment, Comment, Ticket

MAX_FILES = 10

# Extension -> the content type we serve it with. What people attach to support tickets:
# screenshots, documents, logs, archives. Nothing a browser would execute.
ALLOWED_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".xml": "application/xml",
    ".eml": "message/rfc822",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".zip": "application/zip",
}


MAX_NAME_CHARS = 200  # the name people see (Attachment.filename)
# The name on disk, in UTF-8 bytes: well under the 255 bytes file systems allow per name (200
# non-ASCII characters are 400 bytes or more). The name people see is kept in full.
MAX_STORED_NAME_BYTES = 120


def clean_filename(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name.strip().replace("\x00", "")
    return base[:MAX_NAME_CHARS] or "file"


def stored_name(name: str) -> str:
    """``name`` cut to ``MAX_STORED_NAME_BYTES`` in UTF-8 for the disk, keeping its extension
    (and never cutting a character in half)."""
    path = PurePosixPath(name)
    suffix = path.suffix if len(path.suffix.encode()) <= 16 else ""
    room = MAX_STORED_NAME_BYTES - len(suffix.encode())
    stem = name[: len(name) - len(suffix)] if suffix else name
    cut = stem.encode()[:room].decode(errors="ignore").rstrip(". ") or "file"
    return cut + suffix


def attachments_check(*, customer: Customer, files: Sequence[UploadedFile]) -> None:
    """Refuse the whole request (nothing stored) if any file breaks a rule."""
    if not files:
        return
    if len(files) > MAX_FILES:
        raise ValidationError({"attachments": [f"At most {MAX_FILES} files per message."]})
    limit_mb = int(customer.settings.attachment_max_mb)
    errors = []
    for upload in files:
        name = clean_filename(upload.name or "")
        extension = PurePosixPath(name).suffix.lower()
        if extension not in ALLOWED_TYPES:
            allowed = ", ".join(sorted(ALLOWED_TYPES))
            errors.append(
                f"{name}: files of type '{extension or 'none'}' are not accepted (allowed: {allowed})."
            )
        elif (upload.size or 0) > limit_mb * 1024 * 1024:
            errors.append(f"{name}: larger than the {limit_mb} MB limit.")
        elif not upload.size:
            errors.append(f"{name}: the file is empty.")
    if errors:
        raise ValidationError({"attachments": errors})


@contextmanager
def stored_files() -> Iterator[list[str]]:
    """Files written inside the block are removed again if the block fails, the commit of a
    transaction opened inside it included, so a failed request leaves neither rows nor files."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            default_storage.delete(name)
            _remove_empty_folder(name)
        raise


def _remove_empty_folder(name: str) -> None:
    """The per-file folder (``.../<random>/<name>``) goes with its file."""
    try:
        folder = Path(default_storage.path(name)).parent
        folder.rmdir()  # only if empty
    except (NotImplementedError, OSError):
        pass


def attachments_store(
    *,
    ticket: Ticket,
    comment: Comment | None,
    files: Sequence[UploadedFile],
    by: User,
    written: list[str],
) -> list[Attachment]:
    stored = []
    for upload in files:
        name = clean_filename(upload.name or "")
        attachment = Attachment(
            ticket=ticket,
            comment=comment,
            filename=name,
            content_type=ALLOWED_TYPES[PurePosixPath(name).suffix.lower()],
            size=upload.size or 0,
            uploaded_by=by,
        )
        try:
            attachment.file.save(stored_name(name), upload, save=False)
        finally:
            if attachment.file.name:
                written.append(attachment.file.name)
        attachment.save()
        stored.append(attachment)
    return stored


# What a ticket page previews inline (``?inline=true`` on a download): raster images and PDFs,
# by the type the file is served with (fixed from its extension at upload; browsers may not sniff
# it). Never SVG or HTML, which are documents that can carry script: they always download.
PREVIEW_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PREVIEW_DOCUMENTS = frozenset({"application/pdf"})

# The file's own Content-Security-Policy: nothing but itself. A browser shows an image or a PDF
# in a document it makes up, with inline styles. An image's document is sandboxed and framed by
# no page; a PDF's may be framed by this host's pages (the preview), and is not sandboxed:
# Chromium refuses to run its PDF viewer in a sandboxed document (the viewer runs PDF scripts
# isolated from the page's origin either way).
DOWNLOAD_POLICY = "default-src 'none'; sandbox"
IMAGE_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"
)
DOCUMENT_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; frame-ancestors 'self'"
)
POLICIES = {"image": IMAGE_POLICY, "pdf": DOCUMENT_POLICY}


def preview_kind(content_type: str) -> str:
    """How a page previews a file of ``content_type``: "image", "pdf", or "" (it does not)."""
    if content_type in PREVIEW_IMAGES:
        return "image"
    return "pdf" if content_type in PREVIEW_DOCUMENTS else ""


def attachment_response(attachment: Attachment, *, inline: bool = False) -> FileResponse:
    """The file, downloaded; shown in the browser (``inline``) only when it is an image or a
    PDF (``preview_kind``), under a policy that lets it load nothing else."""
    kind = preview_kind(attachment.content_type) if inline else ""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not kind,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["Content-Security-Policy"] = POLICIES.get(kind, DOWNLOAD_POLICY)
    response["X-Content-Type-Options"] = "nosniff"
    if kind == "pdf":
        response["X-Frame-Options"] = "SAMEORIGIN"  # the ticket page's preview frames it
    return response
