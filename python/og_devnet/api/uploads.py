"""Receiving a model upload: multipart/form-data parsed as it streams in, the file part written
straight to a file the caller gives (a temporary file in the models directory), with the size
cap checked on every chunk. Nothing is spooled in memory or in /tmp first, and every piece that
is not file data (headers, form fields, the number of parts) has a small bound of its own.

The file name a client sends is only ever a display name: it is checked here and never becomes
part of a path."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

#: Bounds on what is not file data.
MAX_PARTS = 8
MAX_HEADER_BYTES = 16 * 1024
MAX_FIELD_BYTES = 4 * 1024
#: Longest file name accepted (most file systems' NAME_MAX, in UTF-8 bytes).
MAX_FILENAME_BYTES = 255
#: File data is handed to the disk in writes of about this size, on a worker thread.
_FLUSH_BYTES = 1 << 20
#: Characters a file name may not contain: path separators and control characters.
_FORBIDDEN = {"/", "\\", *map(chr, range(32)), "\x7f"}


class UploadError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Upload:
    filename: str | None = None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


def check_filename(name: str) -> str:
    """The uploaded file's name, if it is a plain file name; UploadError(422) otherwise."""
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        raise UploadError(422, f"the file name is {len(name)} characters long; at most {MAX_FILENAME_BYTES} bytes are accepted")
    if name in (".", ".."):
        raise UploadError(422, f"{name!r} is not a file name")
    bad = sorted({c for c in name if c in _FORBIDDEN})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise UploadError(422, f"the file name {name[:80]!r} contains {shown}; a file name may not contain path separators or control characters")
    return name


class _Receiver:
    """The parser's callbacks: what they collect is acted on between chunks (callbacks
    cannot await)."""

    def __init__(self, file_field: str, charset: str, cap: int) -> None:
        self.file_field = file_field
        self.cap = cap
        self.charset = charset
        self.upload = Upload()
        self.parts = 0
        self.header_bytes = 0
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.name = ""
        self.in_file = False
        self.field_data = bytearray()
        self.pending: list[bytes] = []  # file data not yet written
        self.pending_bytes = 0
        self.ended = False

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadError(422, f"at most {MAX_PARTS} form parts are accepted")
        self.header_bytes = 0
        self.disposition = b""
        self.in_file = False
        self.field_data.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_room(end - start)
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_room(end - start)
        self.header_value += data[start:end]

    def _header_room(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > MAX_HEADER_BYTES:
            raise UploadError(422, f"a form part's headers are limited to {MAX_HEADER_BYTES} bytes")

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise UploadError(422, 'each form part needs a Content-Disposition header with a "name"')
        self.name = self._decode(options[b"name"])
        if self.name == self.file_field:
            if self.upload.filename is not None:
                raise UploadError(422, f"send one file, in the field {self.file_field!r}")
            self.upload.filename = check_filename(self._decode(options.get(b"filename", b"")))
            self.in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.upload.size += end - start
            if self.upload.size > self.cap:
                raise UploadError(413, f"model files are limited to {self.cap} bytes")
            self.pending.append(data[start:end])
            self.pending_bytes += end - start
            return
        if len(self.field_data) + end - start > MAX_FIELD_BYTES:
            raise UploadError(422, f"the form field {self.name[:40]!r} is limited to {MAX_FIELD_BYTES} bytes")
        self.field_data += data[start:end]

    def on_part_end(self) -> None:
        if not self.in_file:
            self.upload.fields[self.name] = self._decode(bytes(self.field_data))

    def on_end(self) -> None:
        self.ended = True

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode(self.charset)
        except UnicodeDecodeError:
            raise UploadError(422, f"form data that is not valid {self.charset}") from None


async def receive_file(request: Request, dest: BinaryIO, cap: int, file_field: str = "file") -> Upload:
    """Reads a multipart/form-data request body, writing the part named `file_field` to `dest`
    and collecting the other (small) fields. UploadError for anything malformed or too big;
    the caller removes `dest` then."""
    ctype, params = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, f"send the model as multipart/form-data with the file in the field {file_field!r}")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "utf-8"
    receiver = _Receiver(file_field, charset, cap)
    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": receiver.on_part_begin, "on_part_data": receiver.on_part_data,
        "on_part_end": receiver.on_part_end, "on_header_field": receiver.on_header_field,
        "on_header_value": receiver.on_header_value, "on_header_end": receiver.on_header_end,
        "on_headers_finished": receiver.on_headers_finished, "on_end": receiver.on_end,
    })  # fmt: skip
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if receiver.pending_bytes >= _FLUSH_BYTES:
                await run_in_threadpool(dest.writelines, receiver.pending)
                receiver.pending, receiver.pending_bytes = [], 0
        parser.finalize()
    except ClientDisconnect:
        raise UploadError(400, "the upload was cut short") from None
    except ValueError as e:  # the parser's own complaints: a malformed body
        raise UploadError(422, f"malformed multipart/form-data: {e}") from None
    await run_in_threadpool(dest.writelines, receiver.pending)
    upload = receiver.upload
    if not receiver.ended:
        raise UploadError(422, "malformed multipart/form-data: the body ends before the closing boundary")
    if upload.filename is None:
        raise UploadError(422, f"no file in the form: send it in the field {file_field!r}")
    return upload
