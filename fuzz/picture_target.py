"""A fetched picture as one function of its bytes, and what must hold whatever they are.

    input ─► (role, picture bytes) ─► digest.images.checking.prepare_picture, as the picture
             gathering calls it for every picture an edition would show

An input is the fetched body, whole, so that every seed is a real file; its length picks the
role (even: the lead's picture, odd: a thumbnail). A publisher's
server, or anyone who can put a picture in a feed, chooses every byte.

What must hold for any input (``PictureFailure`` when it does not):

- the only error is ``PictureRefused`` with a reason on one line (it goes to the log); any
  other exception escapes and is the finding (a build would lose the edition's pictures);
- the copy is a JPEG or a PNG as its type says, of the width and height it says, within the
  role's bounds (a lead at most ``LEAD_WIDTH`` wide, a thumbnail ``THUMB_SIDE`` square), and
  carries no metadata (EXIF, XMP, ICC profile, text chunks, comments);
- checking takes at most ``PREPARE_SECONDS`` of CPU time (libFuzzer's ``-rss_limit_mb``
  bounds its memory).
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Literal

from PIL import Image, ImageCms

from digest.images.checking import (
    LEAD_WIDTH,
    THUMB_SIDE,
    PictureRefused,
    PreparedPicture,
    prepare_picture,
)
from digest.images.records import Role

PREPARE_SECONDS = 10.0
REASON_CHARS = 1_000
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
_METADATA = ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "dpi", "Description")


class PictureFailure(AssertionError):
    """An input broke one of the module docstring's invariants."""


def role_of(data: bytes) -> Role:
    return "thumb" if len(data) % 2 else "lead"


def check_picture(data: bytes) -> None:
    """Check ``data`` as a fetched picture; check the module docstring."""
    role = role_of(data)
    started = time.process_time()
    try:
        prepared = prepare_picture(data, role)
    except PictureRefused as refused:
        if len(refused.reason) > REASON_CHARS or any(c in refused.reason for c in "\r\n\x00"):
            raise PictureFailure(f"a reason not on one line: {refused.reason[:200]!r}") from None
        prepared = None
    spent = time.process_time() - started
    if spent > PREPARE_SECONDS:
        raise PictureFailure(f"checking took {spent:.2f} s of CPU time for {len(data)} bytes")
    if prepared is not None:
        check_copy(prepared, role)


def check_copy(prepared: PreparedPicture, role: Role) -> None:
    """The copy the mail shows is what it says it is, within its role's bounds, bare."""
    if not prepared.data.startswith(_MAGIC[prepared.content_type]):
        raise PictureFailure(f"a copy said to be {prepared.content_type} is not")
    with Image.open(io.BytesIO(prepared.data)) as copy:
        if copy.size != (prepared.width, prepared.height):
            raise PictureFailure(
                f"a copy of {copy.size} said to be {prepared.width}×{prepared.height}"
            )
        kept = sorted(key for key in copy.info if key in _METADATA or str(key).startswith("exif"))
        if kept or copy.getexif():
            raise PictureFailure(f"the copy keeps metadata: {kept}")
    if role == "thumb" and copy.size != (THUMB_SIDE, THUMB_SIDE):
        raise PictureFailure(f"a thumbnail of {copy.size}")
    if role == "lead" and copy.width > LEAD_WIDTH:
        raise PictureFailure(f"a lead picture {copy.width} wide")


# The seeds: pictures of every format and mode the decoders read, written here with Pillow,
# and hand-made headers no encoder writes (size bombs, truncations).


def _photo(mode: str, size: tuple[int, int] = (96, 80)) -> Image.Image:
    """A small picture with a gradient in every channel (never one flat colour)."""
    picture = Image.linear_gradient("L").resize(size)
    bands = [picture, picture.transpose(Image.Transpose.ROTATE_90).resize(size), picture]
    rgb = Image.merge("RGB", bands[:3])
    if mode == "RGBA":
        return Image.merge("RGBA", (*rgb.split(), picture))
    if mode == "P":
        return rgb.quantize(16)
    return rgb.convert(mode)


def _saved(picture: Image.Image, format: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, format=format, **options)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)


def _profile(name: Literal["sRGB", "LAB"]) -> bytes:
    """An ICC profile lcms writes, dated 2026-11-26 (it dates each one when it is made)."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile(name)).tobytes()
    return profile[:24] + struct.pack(">6H", 2026, 11, 26, 0, 0, 0) + profile[36:]


def seeds() -> Iterator[tuple[str, bytes]]:
    """(name, input) of the seed corpus."""
    photo = _photo("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: turned upright on the copy
    exif[0x010E] = "a caption"
    srgb, lab = _profile("sRGB"), _profile("LAB")
    yield "baseline.jpg", _saved(photo, "JPEG", quality=70)
    yield "progressive-exif.jpg", _saved(photo, "JPEG", progressive=True, exif=exif.tobytes())
    yield "cmyk-profile.jpg", _saved(_photo("CMYK"), "JPEG", icc_profile=lab)
    yield "grey.jpg", _saved(_photo("L"), "JPEG")
    yield "truncated.jpg", _saved(photo, "JPEG")[:300]
    yield "rgba.png", _saved(_photo("RGBA"), "PNG")
    yield "palette-transparent.png", _saved(_photo("P"), "PNG", transparency=0)
    yield "profile-text.png", _saved(photo, "PNG", icc_profile=srgb, pnginfo=None)
    yield (
        "grey16.png",
        _saved(_photo("L").convert("I").point(lambda v: v * 257).convert("I;16"), "PNG"),
    )
    yield "one-bit.png", _saved(_photo("1"), "PNG")
    frames = [_photo("P"), _photo("P").rotate(90)]
    yield "animated.gif", _saved(frames[0], "GIF", save_all=True, append_images=frames[1:])
    yield "lossless.webp", _saved(_photo("RGBA"), "WEBP", lossless=True)
    yield (
        "animated.webp",
        _saved(photo, "WEBP", save_all=True, append_images=[photo.rotate(90)], quality=50),
    )
    yield "photo.avif", _saved(photo, "AVIF", quality=40) if "AVIF" in Image.SAVE else b"\x00"
    # Headers that announce more than any photograph, over a few bytes of data.
    yield "size-bomb.png", _png_header(30_000, 30_000) + _chunk(b"IEND", b"")
    yield "tall-thin.png", _png_header(64, 60_000, 1, 0) + _chunk(b"IEND", b"")
    yield "size-bomb.gif", b"GIF89a" + struct.pack("<HH", 65_535, 65_535) + b"\x00\x00\x00;"
    yield "html-page.jpg", b"<!doctype html><html><body>Not found</body></html>"
    yield "empty", b""
