"""Whether fetched bytes are a real picture of useful size, and the copy the mail shows.

    bytes ─► HTML page? ─► Pillow reads the header (known formats only) ─► size bounds (before
    decoding: a decompression bomb is refused here) ─► a JPEG's scans counted (a scan bomb is
    refused here) ─► decode (a truncated file fails) ─►
    aspect ratio, one colour ─► orientation applied, colours to sRGB ─► scaled or cropped for
    its role ─► JPEG (PNG when transparent), written without any metadata

Pure: bytes in, bytes out, no network and no store. Pillow reads JPEG, PNG, GIF and WebP; AVIF
only when the installed Pillow was built with it (``AVIF_READABLE``), otherwise an AVIF picture
is refused as an unknown format and the item shows without it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError, features

from digest.images.records import Role

LEAD_WIDTH = 1056  # twice the 528 px the lead image is shown at
THUMB_SIDE = 192  # twice the 96×96 slot of a thumbnail
MIN_SIDE = 64  # narrower or lower is an icon, a pixel or a spacer
MAX_ASPECT = 4.0  # wider than 4:1 (or taller than 1:4) is a banner or a rule, not a photograph
# Decoding a picture takes about 4 bytes of memory per pixel: 40 megapixels is a camera's
# largest photograph and 160 MB to decode; a header announcing more is a decompression bomb.
# Checking, converting and scaling one of that size peaks at about 480-555 MB of the process
# (a 16-bit PNG with transparency the most), measured; a build prepares one picture at a time.
MAX_PIXELS = 40_000_000
# The widest spread of any colour channel that still reads as one flat colour (JPEG noise).
FLAT_SPREAD = 6
JPEG_QUALITY = 82
# Each scan of a progressive JPEG passes over every block of the picture, and a scan that
# changes nothing takes a few dozen bytes: a file of thousands holds the decoder for minutes
# (the scan bomb of libjpeg-turbo's "Two Issues with the JPEG Standard"), past the build's time
# limit. libjpeg's own progression writes 10 scans, the encoders that optimise theirs a few
# more; at most this many take seconds over MAX_PIXELS.
MAX_JPEG_SCANS = 100

AVIF_READABLE: bool = bool(features.check("avif"))
FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", *(("AVIF",) if AVIF_READABLE else ()))

_HTML_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--", b"<")


class PictureRefused(Exception):
    """The bytes are no picture an edition should show; ``reason`` says why, for the log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class PreparedPicture:
    """The copy the mail shows: encoded bytes, their type, their size in pixels."""

    data: bytes
    content_type: Literal["image/jpeg", "image/png"]
    width: int
    height: int


def prepare_picture(data: bytes, role: Role) -> PreparedPicture:
    """The picture in ``data`` checked and made ready for ``role``; raises PictureRefused."""
    if data.lstrip()[:9].lower().startswith(_HTML_STARTS):
        raise PictureRefused("an HTML or XML page, not a picture")
    try:
        # Image.open reads the header only; _check_header refuses past MAX_PIXELS, below
        # Pillow's own warning bound (MAX_IMAGE_PIXELS), before load() decodes a pixel.
        with Image.open(io.BytesIO(data), formats=FORMATS) as source:
            _check_header(source)
            if source.format in ("JPEG", "MPO"):
                _check_scans(data)
            source.load()
            picture = _converted(source)
    except PictureRefused:
        raise
    except UnidentifiedImageError:
        raise PictureRefused(f"not a picture in a known format ({', '.join(FORMATS)})") from None
    except Image.DecompressionBombError:
        raise PictureRefused(f"over {MAX_PIXELS} pixels: a decompression bomb") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        # A truncated or corrupt file fails while decoding ("image file is truncated").
        raise PictureRefused(f"the picture cannot be decoded: {error}") from None
    except Exception as error:
        # A hostile file can reach an error no decoder documents (struct.error, IndexError...):
        # it is one more picture refused, never a failed build.
        raise PictureRefused(f"the picture cannot be decoded: {error!r}") from None
    _check_content(picture)
    return _encoded(_fitted(picture, role))


def _check_header(source: Image.Image) -> None:
    """Refuse by the size the header announces, before a pixel is decoded."""
    width, height = source.size
    if width * height > MAX_PIXELS:
        raise PictureRefused(f"{width}×{height} is over {MAX_PIXELS} pixels: a decompression bomb")
    if min(width, height) < MIN_SIDE:
        raise PictureRefused(f"{width}×{height} is too small: a pixel, a spacer or an icon")
    if max(width / height, height / width) > MAX_ASPECT:
        raise PictureRefused(f"{width}×{height} is too narrow or too wide: a banner or a spacer")


def _check_scans(data: bytes) -> None:
    """Refuse a JPEG of more than MAX_JPEG_SCANS scans, before they are decoded."""
    if (scans := _jpeg_scans(data, MAX_JPEG_SCANS + 1)) > MAX_JPEG_SCANS:
        raise PictureRefused(
            f"a JPEG of over {MAX_JPEG_SCANS} scans ({scans} or more): it would take too long "
            "to decode"
        )


def _jpeg_scans(data: bytes, enough: int) -> int:
    """The scans (SOS markers) of the JPEG in ``data`` up to its first EOI, counted up to
    ``enough``. Its markers are walked segment by segment, so a byte pair that looks like one
    inside a segment (an EXIF thumbnail, a profile) is not counted; the coded bytes of a scan
    hold no 0xFF but before 0x00 (stuffed) or a restart marker. A broken structure ends the
    count: the decoder says what is wrong with it."""
    scans = 0
    at = 2  # past SOI
    end = len(data)
    while at + 1 < end and scans < enough:
        if data[at] != 0xFF:
            return scans
        marker = data[at + 1]
        if marker == 0xFF:  # fill bytes before a marker
            at += 1
            continue
        if marker == 0xD9:  # EOI: the first picture ends (an MPO's next ones are not decoded)
            return scans
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        if at + 4 > end:
            return scans
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker != 0xDA:
            continue
        scans += 1
        # The coded bytes: up to the next 0xFF that is neither stuffed nor a restart marker.
        while True:
            at = data.find(b"\xff", at)
            if at < 0 or at + 1 >= end:
                return scans
            following = data[at + 1]
            if following != 0x00 and not 0xD0 <= following <= 0xD7:
                break
            at += 2
    return scans


def _converted(source: Image.Image) -> Image.Image:
    """The first frame in RGB or RGBA, turned upright, its colours in sRGB, with no metadata."""
    icc = source.info.get("icc_profile")
    method = _UPRIGHT.get(_orientation(source))
    picture = source.transpose(method) if method is not None else source.copy()
    if picture.mode.startswith("I"):
        picture = _eight_bit_grey(picture)
    if icc and (
        picture.mode == "CMYK" or (picture.mode == "L" and "transparency" not in picture.info)
    ):
        # A CMYK or grey profile describes the picture's own channels (inks, one grey): once
        # the pixels are RGB, it no longer fits them. Through it, they show as browsers show
        # them: the inks as they print, not as screen primaries; the greys on their own curve.
        picture = _to_srgb(picture, icc, "RGB")
        icc = None
    if picture.mode in ("P", "PA", "LA", "La", "RGBa") or (
        picture.mode in ("1", "L", "RGB") and "transparency" in picture.info
    ):
        picture = picture.convert("RGBA")
    elif picture.mode not in ("RGB", "RGBA"):
        picture = picture.convert("RGB")  # CMYK, greyscale, black and white...
    if icc:
        picture = _to_srgb(picture, icc)
    # A new image from the pixels alone: EXIF (GPS included), XMP, comments and profiles stay
    # behind.
    clean = Image.new(picture.mode, picture.size)
    clean.paste(picture)
    return clean


# 16-bit greys to 8-bit ones, rounded.
_EIGHT_BITS = [round(value / 257) for value in range(65_536)]


def _eight_bit_grey(picture: Image.Image) -> Image.Image:
    """A 16-bit greyscale PNG ("I;16") in 8 bits ("L"), or "LA" when it has a transparent grey.

    Its values go to 65,535: converted as they are, every tone past 255 is clipped to white.
    Its transparent grey (tRNS) is a 16-bit value too, matched here before the scaling: after
    it, the neighbouring greys that scale to the same 8-bit one would turn see-through with it.
    """
    wide = picture.convert("I")
    grey = wide.point(_EIGHT_BITS, "L")
    grey.info.pop("transparency", None)
    key = picture.info.get("transparency")
    if not isinstance(key, int):
        return grey
    alpha = wide.point([0 if value == key else 255 for value in range(65_536)], "L")
    return Image.merge("LA", (grey, alpha))


# How each EXIF orientation is turned upright (as ImageOps.exif_transpose does). That function
# also writes the EXIF back without the orientation, and raises on EXIF that Pillow reads but
# cannot write (a tag of an unexpected type, a rational of -2/0, as phones write): the copy
# keeps no metadata, so the orientation alone is read and applied here.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(source: Image.Image) -> int:
    """The EXIF orientation of ``source`` (1 to 8), 1 (as stored) when it has none that can be
    read."""
    try:
        value = source.getexif().get(ExifTags.Base.Orientation)
    except Exception:
        return 1  # broken EXIF: the picture as it is stored, as a browser would show it
    return value if isinstance(value, int) else 1


def _to_srgb(picture: Image.Image, icc: bytes, mode: str | None = None) -> Image.Image:
    """The colours converted from the embedded profile to sRGB, which every mail app assumes,
    in ``mode`` (the picture's own by default)."""
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source_profile).lower():
            return picture
        converted = ImageCms.profileToProfile(
            picture,
            source_profile,
            ImageCms.createProfile("sRGB"),
            outputMode=mode or picture.mode,
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return picture  # a broken profile: the pixels as they are
    return converted if converted is not None else picture


def _check_content(picture: Image.Image) -> None:
    """Refuse a picture of one colour (a spacer, a blank placeholder) or fully transparent."""
    if picture.mode == "RGBA" and _highest_alpha(picture) == 0:
        raise PictureRefused("fully transparent: a spacer")
    # Every pixel counts: a picture made small first would average a fine texture (sand,
    # gravel, snow) to one colour.
    extrema = picture.getextrema()[:3] if picture.mode == "RGBA" else picture.getextrema()
    if all(high - low <= FLAT_SPREAD for low, high in extrema):  # type: ignore[misc]
        raise PictureRefused("a single colour: a spacer or a blank placeholder")


def _fitted(picture: Image.Image, role: Role) -> Image.Image:
    """Scaled to twice its display width (never enlarged), or cropped to the thumbnail square."""
    if role == "thumb":
        return ImageOps.fit(picture, (THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    width, height = picture.size
    if width <= LEAD_WIDTH:
        return picture
    return picture.resize(
        (LEAD_WIDTH, max(1, round(height * LEAD_WIDTH / width))), Image.Resampling.LANCZOS
    )


def _encoded(picture: Image.Image) -> PreparedPicture:
    """JPEG, or PNG when some pixel is see-through; no metadata is written."""
    out = io.BytesIO()
    if picture.mode == "RGBA" and _lowest_alpha(picture) < 255:
        picture.save(out, format="PNG", optimize=True)
        content_type: Literal["image/jpeg", "image/png"] = "image/png"
    else:
        picture.convert("RGB").save(
            out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True
        )
        content_type = "image/jpeg"
    return PreparedPicture(out.getvalue(), content_type, picture.width, picture.height)


def _alpha_extrema(picture: Image.Image) -> tuple[int, int]:
    extrema = picture.getchannel("A").getextrema()  # one band: (lowest, highest)
    assert isinstance(extrema, tuple) and isinstance(extrema[0], int | float)
    return int(extrema[0]), int(extrema[1])


def _lowest_alpha(picture: Image.Image) -> int:
    return _alpha_extrema(picture)[0]


def _highest_alpha(picture: Image.Image) -> int:
    return _alpha_extrema(picture)[1]
