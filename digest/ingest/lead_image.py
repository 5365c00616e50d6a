"""An entry's lead picture: the first usable address of those its media, enclosures and HTML name.

    media:content, narrowest wide enough first ─► media:thumbnail ─► image enclosures ─►
    the entry's image ─► the summary's <img> ─► the content's <img> ─► icon-sized thumbnails

An address is usable when it is an absolute http(s) URL and no tracking pixel, spacer or broken
address (``digest.ingest.pictures.picture_url``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from digest.ingest import pictures
from digest.ingest.image_tags import image_sources
from digest.ingest.urls import absolute_http_url

ICON_WIDTH = 100  # pixels; a picture declared narrower is an icon or a thumbnail crop
# The width a lead picture needs: twice the 528 pixels it is shown at (the image service scales
# it to this, digest.images.checking.LEAD_WIDTH). A wider rendition only costs bytes.
RENDITION_WIDTH = 1056
_NOT_IMAGE_SUFFIXES = (
    ".mp3", ".m4a", ".ogg", ".oga", ".mp4", ".m4v", ".webm", ".mov", ".m3u8", ".pdf",
)  # fmt: skip


def lead_image_url(
    raw: Mapping[str, Any], source_html: str, link: str, html_base: str
) -> str | None:
    """The address of ``raw``'s lead picture, absolute; None when it names no usable one."""
    for candidate, base in _image_candidates(raw, source_html, link, html_base):
        url = resolved_picture(candidate, base)
        if url is not None:
            return url
    return None


def resolved_picture(candidate: str | None, base: str) -> str | None:
    """``candidate``, read against ``base``, as the lead picture's address would be; None when
    it is no usable picture's."""
    url = absolute_http_url(candidate, base)
    return url if url is not None and pictures.picture_url(url) is not None else None


def html_with_bases(
    raw: Mapping[str, Any], source_html: str, link: str, html_base: str
) -> Iterator[tuple[str, str]]:
    """The entry's HTML, its summary then each of its contents, with the address each one's
    relative URLs are read against (as ``_image_candidates`` reads them)."""
    yield source_html, html_base
    for content in raw.get("content") or ():
        base = absolute_http_url(str(content.get("base") or ""), link) or link
        yield str(content.get("value") or ""), base


def _image_candidates(
    raw: Mapping[str, Any], source_html: str, link: str, html_base: str
) -> Iterable[tuple[str | None, str]]:
    """Lead image candidates, best first, each with the URL it is relative to."""
    media = [item for item in raw.get("media_content") or () if _looks_like_image(item)]
    media.sort(key=_rendition_rank)
    yield from ((item.get("url"), link) for item in media)
    thumbnails = raw.get("media_thumbnail") or ()
    # An icon-sized thumbnail (Blogger's 72px crops) is the last resort, after the HTML's images.
    yield from ((item.get("url"), link) for item in thumbnails if not _is_icon_sized(item))
    for enclosure in raw.get("links") or ():
        if enclosure.get("rel") == "enclosure" and str(enclosure.get("type", "")).startswith(
            "image/"
        ):
            yield enclosure.get("href"), link
    yield (raw.get("image") or {}).get("href"), link
    for html, base in html_with_bases(raw, source_html, link, html_base):
        yield from ((source, base) for source in image_sources(html))
    yield from ((item.get("url"), link) for item in thumbnails if _is_icon_sized(item))


def _rendition_rank(item: Mapping[str, Any]) -> tuple[int, int]:
    """Publishers list several renditions: the narrowest at least RENDITION_WIDTH wide comes
    first, then the others from the widest down, then those of no declared width. The widest
    of all is often the camera's original (8,000 pixels, tens of megabytes), which the image
    service refuses and which every reader would load without it."""
    width = _as_int(item.get("width"))
    if width >= RENDITION_WIDTH:
        return 0, width
    return (1, -width) if width > 0 else (2, 0)


def _is_icon_sized(item: Mapping[str, Any]) -> bool:
    return 0 < _as_int(item.get("width")) < ICON_WIDTH


def _looks_like_image(item: Mapping[str, Any]) -> bool:
    medium = str(item.get("medium") or "").strip().lower()
    kind = str(item.get("type") or "").strip().lower()
    # The type names the file itself, where CMSs write medium="image" on every media:content,
    # their clips included: a declared MIME type must be an image's, else a declared medium
    # decides (a type that is no MIME type, such as "image" or "jpeg", leaves it to the medium).
    if "/" in kind:
        if kind.partition("/")[0] != "image":
            return False
    elif medium and medium != "image":
        return False
    # Whatever is declared, a sound or video file says so by its name.
    try:
        path = urlsplit(str(item.get("url") or "")).path
    except ValueError:  # no address at all; absolute_http_url refuses it too
        return False
    return not path.lower().endswith(_NOT_IMAGE_SUFFIXES)


def _as_int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
