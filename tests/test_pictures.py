"""Tests for digest.ingest.pictures: the addresses that are no picture of a story."""

from __future__ import annotations

import pytest

from digest.ingest.pictures import not_a_picture, picture_url

NOT_PICTURES = [
    # tracking pixels and spacers, by name
    "https://news.example.org/assets/rss-pixel.png",
    "https://news.example.org/img/story-2026-pixel.png",
    "https://news.example.org/pixel.gif",
    "https://news.example.org/t/pixel?id=123",
    "https://news.example.org/1x1.gif",
    "https://news.example.org/images/1x1_trans.png",
    "https://news.example.org/spacer.gif",
    "https://news.example.org/img/lazy-spacer-grey.gif",
    "https://news.example.org/images/blank.gif",
    "https://news.example.org/images/blank.jpg",
    "https://news.example.org/transparent.png",
    "https://news.example.org/t.gif",
    "https://news.example.org/open.gif?u=1",
    "https://news.example.org/counter.png",
    # sizes of a pixel in the query
    "https://news.example.org/photo.jpg?width=1&height=1",
    "https://news.example.org/photo.jpg?w=1",
    "https://news.example.org/photo.jpg?h=0",
    # hosts and paths of trackers and platforms
    "https://ad.doubleclick.net/ddm/trackimp/N123.gif",
    "https://sb.scorecardresearch.com/p?c1=2&c2=123",
    "https://feeds.feedburner.com/~r/gulfwire/~4/abc",
    "https://feedburner.google.com/fb/images/pub/feed-icon.png",
    "https://pixel.wp.com/b.gif?host=x",
    "https://stats.wordpress.com/b.gif",
    "https://www.facebook.com/tr?id=1&ev=PageView",
    "https://secure.gravatar.com/avatar/abc?s=96",
    "https://s.w.org/images/core/emoji/14.0.0/72x72/1f600.png",
    "https://news.example.org/wp-includes/images/smilies/frownie.png",
    "https://feeds.feedblitz.com/~/i/123/0/gulfwire",
    "https://feeds.wordpress.com/1.0/comments/gulfwire.wordpress.com/1/",
    # broken addresses
    "https://news.example.org/undefined",
    "https://news.example.org/images/undefined",
    "https://news.example.org/img/null",
    "https://news.example.org/media/None",
    "https://news.example.org/img/%5Bobject%20Object%5D",
    "https://news.example.org/img/{{image}}",
    "https://news.example.org/img/${url}.jpg",
    "https://news.example.org/img/undefined.jpg",  # "/img/" + name + ".jpg", the name missing
    "https://news.example.org/media/null.png",
    "https://news.example.org/img/%5Bobject%20Object%5D.jpeg",
    "https://news.example.org/",
    "https://news.example.org",
    "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7",
    "javascript:alert(1)",
    "http://[oops/x.jpg",
    # stand-ins for a missing picture
    "https://s.news.example.org/images/US/news_default_2000x2000_update_4x3t_384.jpg",
    "https://news.example.org/img/placeholder.jpg",
    "https://news.example.org/img/no-image.png",
    "https://news.example.org/img/lazy-load-placeholder.svg",
    "https://news.example.org/img/NoImageAvailable.jpg",
    "https://news.example.org/img/site_no_photo.gif",
    "https://news.example.org/img/siteNoImg.png",
]

PICTURES = [
    "https://news.example.org/wp-content/uploads/2026/02/truce-768x432.jpg",
    "https://news.example.org/img/clear-skies-over-gaza.jpg",  # "clear", but a photograph
    "https://news.example.org/img/missing-hostages-vigil.jpg",
    "https://news.example.org/img/tracking-the-storm-cell.jpg",
    "https://news.example.org/uploads/image.png",
    "https://news.example.org/square/1x1/rally.jpg",  # a square crop's folder
    "https://news.example.org/2026/a.jpg",
    "https://cdn.news.example.org/4b1f645583ee7c99b9a56f110321c80?width=862&height=485",
    "https://news.example.org/photos/rally.webp",  # kept: converting it is the image service's
    "https://news.example.org/photos/rally.avif",
    "https://news.example.org/img/pixel-9-phone-review.jpg",
    # Words ending in "no" before "image", "photo", "picture": no "no image" in them.
    "https://news.example.org/uploads/volcano-image.jpg",
    "https://news.example.org/uploads/casino-images-2026.jpg",
    "https://news.example.org/uploads/Al_Pacino_photo.jpg",
    "https://news.example.org/uploads/PianoPicture.jpg",
]


@pytest.mark.parametrize("url", NOT_PICTURES)
def test_an_address_that_shows_no_picture_is_dropped(url: str) -> None:
    assert not_a_picture(url) is not None
    assert picture_url(url) is None


@pytest.mark.parametrize("url", PICTURES)
def test_a_photographs_address_is_kept(url: str) -> None:
    assert not_a_picture(url) is None
    assert picture_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://editor:s3cret@cdn.news.example.org/photos/rally.jpg",
        "https://editor@cdn.news.example.org/photos/rally.jpg",
        "http://:pw@cdn.news.example.org/photos/rally.jpg",
    ],
)
def test_a_picture_address_with_a_user_name_or_password_is_dropped(url: str) -> None:
    # Kept, the password went to every reader, and Chromium refuses to load such a picture.
    assert not_a_picture(url) == "an address with a user name or password"
    assert picture_url(url) is None


def test_no_address_is_no_picture() -> None:
    assert picture_url(None) is None
    assert picture_url("") is None
