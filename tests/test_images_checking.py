"""digest.images.checking: which bytes are a real picture, and the copy the mail shows."""

from __future__ import annotations

import io
import itertools
import struct
import time
import zlib

import pytest
from PIL import GifImagePlugin, Image, ImageCms, ImageDraw

from digest.images.checking import (
    AVIF_READABLE,
    LEAD_WIDTH,
    MAX_PIXELS,
    THUMB_SIDE,
    PictureRefused,
    prepare_picture,
)


def photo(width: int = 800, height: int = 600, mode: str = "RGB") -> Image.Image:
    """A picture with something in it: a gradient and a few shapes."""
    picture = Image.linear_gradient("L").resize((width, height)).convert(mode)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((width // 4, height // 4, width // 2, height // 2), fill="red")
    draw.rectangle((width // 2, height // 2, width * 9 // 10, height * 9 // 10), fill="blue")
    return picture


def encoded(picture: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, format=fmt, **options)
    return out.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(PictureRefused) as refused:
        prepare_picture(data, "lead")
    return refused.value.reason


def test_a_photograph_becomes_a_jpeg_scaled_to_twice_the_lead_width() -> None:
    prepared = prepare_picture(encoded(photo(2400, 1600), "JPEG"), "lead")
    assert prepared.content_type == "image/jpeg"
    assert (prepared.width, prepared.height) == (LEAD_WIDTH, 704)
    with Image.open(io.BytesIO(prepared.data)) as again:
        assert again.format == "JPEG" and again.size == (LEAD_WIDTH, 704)


def test_a_small_photograph_is_not_enlarged() -> None:
    prepared = prepare_picture(encoded(photo(640, 480), "PNG"), "lead")
    assert (prepared.width, prepared.height) == (640, 480)


def test_a_thumbnail_is_cropped_at_the_centre_to_the_square() -> None:
    picture = photo(900, 300)
    # A wide picture: the centre third is kept; mark it green to see it survives the crop.
    ImageDraw.Draw(picture).rectangle((300, 0, 600, 300), fill=(0, 200, 0))
    prepared = prepare_picture(encoded(picture, "PNG"), "thumb")
    assert (prepared.width, prepared.height) == (THUMB_SIDE, THUMB_SIDE)
    with Image.open(io.BytesIO(prepared.data)) as again:
        red, green, blue = again.convert("RGB").getpixel((96, 96))  # type: ignore[misc]
        assert green > 150 and red < 60 and blue < 60


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1, 1), "too small"), ((40, 40), "too small"), ((1200, 90), "too narrow or too wide")],
    ids=["pixel", "icon", "banner"],
)
def test_pixels_icons_and_banners_are_refused(size: tuple[int, int], expected: str) -> None:
    assert expected in refusal(encoded(photo(*size), "GIF"))


def test_a_spacer_of_one_colour_is_refused() -> None:
    assert "single colour" in refusal(encoded(Image.new("RGB", (600, 400), "#fafafa"), "JPEG"))
    assert "transparent" in refusal(encoded(Image.new("RGBA", (600, 400), (0, 0, 0, 0)), "PNG"))


def test_webp_with_exif_gps_becomes_a_jpeg_without_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPSInfo
    data = encoded(photo(), "WEBP", exif=exif.tobytes(), quality=90)
    with Image.open(io.BytesIO(data)) as source:
        assert source.getexif().get_ifd(0x8825)  # the test's picture does carry a position
    prepared = prepare_picture(data, "lead")
    assert prepared.content_type == "image/jpeg"
    assert b"Exif" not in prepared.data and b"Camera Maker" not in prepared.data
    with Image.open(io.BytesIO(prepared.data)) as again:
        assert again.format == "JPEG"
        assert not again.getexif() and "icc_profile" not in again.info and "exif" not in again.info


def test_a_png_with_transparency_stays_a_png_with_its_alpha() -> None:
    picture = photo(400, 300, "RGBA")
    ImageDraw.Draw(picture).rectangle((0, 0, 100, 100), fill=(0, 0, 0, 0))
    prepared = prepare_picture(encoded(picture, "PNG"), "lead")
    assert prepared.content_type == "image/png"
    with Image.open(io.BytesIO(prepared.data)) as again:
        assert again.mode == "RGBA" and again.getpixel((10, 10))[3] == 0  # type: ignore[index]


def test_a_black_and_white_png_with_a_transparent_colour_keeps_it_see_through() -> None:
    # Line art as a 1-bit PNG whose "black" is the transparent colour (tRNS): converted as an
    # opaque picture it became white lines in a black box.
    art = Image.new("1", (300, 200), 0)
    ImageDraw.Draw(art).rectangle((50, 50, 250, 150), outline=1, width=6)
    prepared = prepare_picture(encoded(art, "PNG", transparency=0), "lead")
    assert prepared.content_type == "image/png"
    with Image.open(io.BytesIO(prepared.data)) as again:
        assert again.mode == "RGBA"
        assert again.getpixel((10, 10))[3] == 0  # type: ignore[index]
        assert again.getpixel((52, 100)) == (255, 255, 255, 255)


def test_an_opaque_png_becomes_a_jpeg() -> None:
    assert prepare_picture(encoded(photo(400, 300, "RGBA"), "PNG"), "lead").content_type == (
        "image/jpeg"
    )


def test_a_16_bit_greyscale_png_keeps_its_tones() -> None:
    # Pillow reads a 16-bit greyscale PNG (a scanned archive photograph) as values up to
    # 65,535; taken as 8-bit ones, every tone past 255 came out white.
    grey = photo(400, 300).convert("L")
    sixteen = grey.convert("I").point(lambda value: value * 257).convert("I;16")
    data = encoded(sixteen, "PNG")
    with Image.open(io.BytesIO(data)) as read:
        assert read.mode == "I;16"
    prepared = prepare_picture(data, "lead")
    with Image.open(io.BytesIO(prepared.data)) as again:
        shown = again.convert("L")
        for spot in [(10, 10), (200, 150), (390, 290), (150, 100)]:
            assert abs(shown.getpixel(spot) - grey.getpixel(spot)) <= 8, spot  # type: ignore[operator]


def test_a_16_bit_greyscale_png_makes_only_its_transparent_grey_see_through() -> None:
    # Its transparent grey (tRNS) is a 16-bit value: 25,700 here. Scaled to 8 bits, 25,710 is
    # the same grey (100), and was punched out with it.
    sixteen = Image.new("I;16", (300, 200))
    sixteen.paste(Image.new("I", (100, 200), 25_700).convert("I;16"), (0, 0))
    ramp = Image.linear_gradient("L").resize((200, 200)).convert("I")
    sixteen.paste(ramp.point(lambda value: value * 200 + 2_000).convert("I;16"), (100, 0))
    sixteen.paste(Image.new("I", (200, 40), 25_710).convert("I;16"), (100, 80))
    prepared = prepare_picture(encoded(sixteen, "PNG", transparency=25_700), "lead")
    assert prepared.content_type == "image/png"
    with Image.open(io.BytesIO(prepared.data)) as again:
        alpha = again.getchannel("A")
        assert alpha.crop((0, 0, 100, 200)).getextrema() == (0, 0)
        assert alpha.crop((100, 0, 300, 200)).getextrema() == (255, 255)
        assert again.getpixel((200, 100)) == (100, 100, 100, 255)


def test_a_truncated_file_is_refused() -> None:
    data = encoded(photo(), "JPEG")
    assert "cannot be decoded" in refusal(data[: len(data) // 2])


@pytest.mark.parametrize("side", [8_000, 100_000])
def test_a_decompression_bomb_is_refused_from_its_header(side: int) -> None:
    # A PNG header announcing side × side pixels, with one tiny compressed row: the refusal
    # comes before anything is decoded (8,000² is under Pillow's own bound, not under ours).
    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )
    assert side * side > MAX_PIXELS
    assert "decompression bomb" in refusal(data)


def test_an_html_page_served_as_a_jpeg_is_refused() -> None:
    page = b"<!DOCTYPE html><html><head><title>Not found</title></head><body>Gone</body></html>"
    assert "HTML" in refusal(page)
    assert "known format" in refusal(b"GIF89a but not really a picture at all")


def test_avif_is_converted_when_pillow_reads_it() -> None:
    # The Pillow this project installs is built with AVIF; a build without it refuses AVIF as
    # an unknown format, which the module says (AVIF_READABLE).
    assert AVIF_READABLE
    prepared = prepare_picture(encoded(photo(), "AVIF"), "lead")
    assert prepared.content_type == "image/jpeg" and prepared.width == 800


def test_an_animated_gif_gives_its_first_frame() -> None:
    frames = [photo(), Image.new("RGB", (800, 600), "white")]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    prepared = prepare_picture(data, "thumb")
    assert prepared.content_type == "image/jpeg"


def test_an_error_no_decoder_documents_is_one_more_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hostile files reach struct.error, IndexError and the like deep in decoders: a refused
    # picture, never a failed build.
    def broken(source: Image.Image) -> Image.Image:
        raise IndexError("tuple index out of range")

    monkeypatch.setattr("digest.images.checking._converted", broken)
    assert "cannot be decoded" in refusal(encoded(photo(), "JPEG"))


def test_a_sideways_photograph_is_turned_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; show it rotated 90° clockwise
    prepared = prepare_picture(encoded(photo(800, 600), "JPEG", exif=exif.tobytes()), "lead")
    assert (prepared.width, prepared.height) == (600, 800)


def test_a_sideways_photograph_whose_exif_cannot_be_written_back_is_turned_upright() -> None:
    # Phones and photo tools write EXIF that Pillow reads but cannot write again (a BYTE tag
    # stored as a SHORT of 300 here; a rational of -2/0 from a Samsung phone, a Windows
    # rotation's odd counts): ImageOps.exif_transpose writes it back, raised, and the
    # photograph was refused for metadata the copy drops anyway.
    ifd0 = struct.pack("<H", 2)
    ifd0 += struct.pack("<HHII", 0x0112, 3, 1, 6)  # Orientation: rotate 90° clockwise
    ifd0 += struct.pack("<HHII", 0x8825, 4, 1, 8 + 2 + 2 * 12 + 4)  # the GPS IFD, next
    ifd0 += struct.pack("<I", 0)
    gps = struct.pack("<H", 1) + struct.pack("<HHII", 0x0000, 3, 1, 300) + struct.pack("<I", 0)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + gps
    prepared = prepare_picture(encoded(photo(800, 600), "JPEG", exif=exif), "lead")
    assert (prepared.width, prepared.height) == (600, 800)
    with Image.open(io.BytesIO(prepared.data)) as again:
        assert not again.getexif()


def test_a_colour_profile_is_applied_and_not_carried_over() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    prepared = prepare_picture(encoded(photo(), "JPEG", icc_profile=srgb), "lead")
    with Image.open(io.BytesIO(prepared.data)) as again:
        assert "icc_profile" not in again.info


def _s15(value: float) -> bytes:
    """An ICC s15Fixed16Number."""
    return struct.pack(">i", round(value * 65536))


def cmyk_profile() -> bytes:
    """A small ICC v2 CMYK profile (a lut8 from CMYK to Lab, as a press's profile has): cyan ink
    prints a mid blue, magenta a crimson, black ink black."""
    text = b"Test press CMYK\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8 + 3 + 67)
    white = _s15(0.9642) + _s15(1.0) + _s15(0.8249)  # D50, the profile connection space's
    clut = bytearray()
    for cyan, magenta, yellow, black in itertools.product((0, 1), repeat=4):
        lightness = 0 if black else max(0, 100 - 45 * cyan - 50 * magenta - 10 * yellow)
        a = 0 if black else -37 * cyan + 70 * magenta - 5 * yellow
        b = 0 if black else -50 * cyan - 10 * magenta + 90 * yellow
        clut += bytes([round(lightness * 2.55), min(255, a + 128), min(255, b + 128)])
    identity = bytes(range(256))
    matrix = b"".join(_s15(row == column) for row, column in itertools.product(range(3), repeat=2))
    a2b0 = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + matrix + identity * 4 + clut + identity * 3
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + white), (b"A2B0", a2b0)]
    return _icc_profile(b"prtrCMYKLab ", white, tags)


def _icc_profile(kind: bytes, white: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """An ICC v2 profile: its 128-byte header (``kind``: device class, colour space and
    connection space), its tag table and the ``tags``, each on a 4-byte boundary."""
    table, body = struct.pack(">I", len(tags)), b""
    start = 128 + 4 + 12 * len(tags)
    for signature, data in tags:
        body += bytes(-(start + len(body)) % 4)
        table += signature + struct.pack(">II", start + len(body), len(data))
        body += data
    header = struct.pack(">I", start + len(body)) + b"lcms" + struct.pack(">I", 0x02100000)
    header += kind + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
    header += white + bytes(48)
    return header + table + body


def test_a_cmyk_photograph_is_converted_through_its_own_profile() -> None:
    # Print desks send CMYK JPEGs with their press's profile, which browsers apply. Converted
    # to RGB first, the profile no longer fitted the pixels and was dropped: the inks showed as
    # screen primaries (pure cyan and magenta), not the colours the profile says they print.
    icc = cmyk_profile()
    inks = Image.new("CMYK", (200, 100), (255, 0, 0, 0))
    inks.paste(Image.new("CMYK", (100, 100), (0, 255, 0, 0)), (100, 0))
    expected = ImageCms.profileToProfile(
        inks,
        ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    )
    assert expected is not None
    prepared = prepare_picture(encoded(inks, "JPEG", icc_profile=icc, quality=95), "lead")
    with Image.open(io.BytesIO(prepared.data)) as again:
        assert "icc_profile" not in again.info
        for spot in [(50, 50), (150, 50)]:
            shown, wanted = again.getpixel(spot), expected.getpixel(spot)
            assert all(abs(a - b) <= 12 for a, b in zip(shown, wanted, strict=True)), spot  # type: ignore[arg-type]


def grey_profile(gamma: float) -> bytes:
    """A small ICC v2 greyscale profile: its grey tone curve (kTRC) a plain ``gamma``."""
    text = b"Test grey\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8 + 3 + 67)
    white = _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + white), (b"kTRC", curve)]
    return _icc_profile(b"mntrGRAYXYZ ", white, tags)


def test_a_greyscale_photograph_is_converted_through_its_own_profile() -> None:
    # Photo desks send greyscale JPEGs with a grey profile (Photoshop's "Dot Gain 20%"), which
    # browsers apply; applied once the pixels were RGB, it no longer fitted them and was
    # dropped. A linear grey profile here: its 64 is a quarter of the light, 137 in sRGB.
    icc = grey_profile(1.0)
    tones = Image.new("L", (200, 100), 64)
    tones.paste(Image.new("L", (100, 100), 200), (100, 0))
    expected = ImageCms.profileToProfile(
        tones,
        ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    )
    assert expected is not None and expected.getpixel((50, 50))[0] > 120  # type: ignore[index]
    prepared = prepare_picture(encoded(tones, "JPEG", icc_profile=icc, quality=95), "lead")
    with Image.open(io.BytesIO(prepared.data)) as again:
        for spot in [(50, 50), (150, 50)]:
            shown, wanted = again.getpixel(spot), expected.getpixel(spot)
            assert all(abs(a - b) <= 6 for a, b in zip(shown, wanted, strict=True)), spot  # type: ignore[arg-type]


def test_a_fine_texture_is_no_single_colour() -> None:
    # Grey noise around one tone: averaged down to a thumbnail it would look flat, and it is not.
    texture = Image.effect_noise((1200, 900), 10).convert("RGB")
    prepared = prepare_picture(encoded(texture, "PNG"), "lead")
    assert prepared.width == LEAD_WIDTH


def test_an_svg_is_refused_whatever_it_starts_with() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><script>x</script></svg>'
    )
    assert "HTML or XML" in refusal(svg)
    assert "HTML or XML" in refusal(b'\n  <?xml version="1.0"?>' + svg)
    assert "known format" in refusal(b"\xef\xbb\xbf" + svg)  # behind a byte order mark


def test_a_picture_that_is_also_an_html_page_is_served_as_new_pixels_only() -> None:
    # A GIF whose comment block holds a page: a browser sniffing it could run the page. The
    # copy we serve is encoded anew from the pixels, so nothing of the page is left in it.
    page = b"<html><body><script>alert(document.domain)</script></body></html>"
    polyglot = encoded(photo(), "GIF", comment=page)
    assert page in polyglot
    prepared = prepare_picture(polyglot, "lead")
    assert prepared.content_type == "image/jpeg"
    assert b"<script" not in prepared.data and b"<html" not in prepared.data
    assert prepared.data.startswith(b"\xff\xd8\xff")


def test_a_gif_of_thousands_of_frames_is_read_for_its_first_only() -> None:
    # Decoding every frame of an animation is the bomb a header does not show: 1,000 frames
    # here, of which only the first is ever decoded (Image.open reads no frame past it).
    frames = [photo(200, 150)] + [
        Image.new("RGB", (200, 150), (n % 256, 0, 0)) for n in range(1000)
    ]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20)
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.n_frames == 1001
    seen: list[int] = []
    original = GifImagePlugin.GifImageFile._seek

    def counting_seek(self: GifImagePlugin.GifImageFile, frame: int, *args: object) -> None:
        seen.append(frame)
        original(self, frame, *args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GifImagePlugin.GifImageFile, "_seek", counting_seek)
        prepared = prepare_picture(data, "lead")
    assert prepared.width == 200
    assert seen == [0]


def _jpeg_scan_segments(data: bytes) -> list[bytes]:
    """Each scan of a JPEG: its SOS header and the entropy-coded bytes that follow it."""
    scans: list[bytes] = []
    at = 2  # past SOI
    while data[at + 1] != 0xD9:
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        end = at + 2 + length
        if data[at + 1] == 0xDA:
            # The coded bytes end at the next marker (0xFF then neither a stuffed 0 nor a restart).
            while not (
                data[end] == 0xFF and data[end + 1] != 0 and not 0xD0 <= data[end + 1] <= 0xD7
            ):
                end += 1
            scans.append(data[at:end])
        at = end
    return scans


def test_a_progressive_jpeg_of_thousands_of_scans_is_refused_before_it_is_decoded() -> None:
    # Each scan of a progressive JPEG passes over every block of the picture, and one that
    # changes nothing takes a few dozen bytes: 200 such scans over 36 megapixels took 10 s to
    # decode, a few thousand would hold the build past its time limit at every try (the scan
    # bomb of libjpeg-turbo's "Two Issues with the JPEG Standard").
    source = encoded(photo(1200, 900), "JPEG", progressive=True, quality=90)
    assert 5 <= len(_jpeg_scan_segments(source)) <= 12  # libjpeg's own progression: accepted
    assert prepare_picture(source, "lead").width == LEAD_WIDTH
    cheapest = min(_jpeg_scan_segments(source), key=len)
    bomb = source[:-2] + cheapest * 2000 + b"\xff\xd9"
    assert len(bomb) < 1_000_000
    started = time.monotonic()
    assert "scans" in refusal(bomb)
    assert time.monotonic() - started < 1
