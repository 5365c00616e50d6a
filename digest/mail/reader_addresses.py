"""A reader's address and name as an import, a sign-up or a preferences page takes them: the
address checked and normalized for sending, the name put on one line, and both written so a
spreadsheet opening an export shows them without running them."""

from __future__ import annotations

import functools
import re
import unicodedata

import idna
from email_validator import EmailNotValidError, validate_email

from digest.mail.headers import LINE_BREAKING

MAX_EMAIL = 254  # RFC 5321's limit on a path, less the angle brackets
# An address as a mail program writes it: a name (or nothing) and the address in < >.
BRACKETED = re.compile(r"[^<>]*<([^<>]*@[^<>]*)>\s*")
# The local part: printable ASCII without spaces or the characters that delimit addresses.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# A cell a spreadsheet reads as a formula: a name like "=HYPERLINK(...)" from a sign-up form
# would run in the operator's spreadsheet when an export is opened (CSV injection). The export
# writes such a name behind a "'", which spreadsheets show as text, and an import takes it off.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# What may stand in an address's part before the @ besides letters (RFC 6531's atext): an
# address whose part is that, with letters outside ASCII, is one, but of the kind only SMTPUTF8
# carries.
_NOT_IN_A_LOCAL_PART = frozenset(' "(),:;<>@[\\]')


class AddressNotAscii(ValueError):
    """An address with letters outside ASCII before the @ ("علي@example.com"): valid by RFC 6531,
    refused because it needs SMTPUTF8 from every mail server on its way, which this mailer does
    not use (docs/subscribers.md says why)."""


def _protected(text: str) -> bool:
    """Whether ``text`` is written behind a "'": a formula's start, also after "'"s of its own
    ("'=x@example.org" is a valid address, another than "=x@example.org": written as it is, it
    would be read back as that other one)."""
    return text.lstrip("'").startswith(_FORMULA_STARTS)


def spreadsheet_safe(text: str) -> str:
    """``text`` as a spreadsheet shows it but never runs it: a "'" before a formula's start."""
    return "'" + text if _protected(text) else text


def from_spreadsheet_safe(text: str) -> str:
    """What ``spreadsheet_safe`` was given: an export read back is the same name."""
    return text[1:] if text.startswith("'") and _protected(text[1:]) else text


def clean_name(name: str | None) -> str | None:
    """A subscriber's name on one line: control characters become spaces, runs of space shrink.

    Names end up in mail headers and greetings; this is what keeps ``"Eve\\r\\nBcc: x"`` from
    adding a header. Format characters (Cf) stay: Persian names need the zero-width non-joiner.
    Composed (NFC): a file saved on a Mac spells "Zoë" as "Zoe" and a combining mark, which
    compared as another name at each import of the other spelling.
    """
    if name is None:
        return None
    name = unicodedata.normalize("NFC", name)
    if name.isprintable():
        # The common case: nothing to replace, only the outer space to trim.
        cleaned = " ".join(name.split())
    else:
        cleaned = " ".join(
            "".join(
                " " if unicodedata.category(char) in LINE_BREAKING else char for char in name
            ).split()
        )
    return cleaned or None


def normalize_email(address: str) -> str:
    """The address with its domain lowercased (and IDNA-encoded); raises ValueError if invalid."""
    address = address.strip()
    if not address:
        raise ValueError("missing email")
    bracketed = BRACKETED.fullmatch(address)
    if bracketed:
        # Pasted from a mail program ("Jane Doe <jane@x.org>"): refused all the same (the name
        # is no part of the address), but saying what to write rather than what the part
        # before the @ may hold.
        raise ValueError(
            f"{address!r} is written as a mail program shows it: write the address alone, "
            f"{bracketed.group(1).strip()!r}"
        )
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{address!r} is not an email address (expected name@domain)")
    dots_misplaced = local.startswith(".") or local.endswith(".") or ".." in local
    if (
        not local.isascii()
        and local.isprintable()
        and _NOT_IN_A_LOCAL_PART.isdisjoint(local)
        and not dots_misplaced
    ):
        raise AddressNotAscii(
            f"{address!r} has letters outside ASCII before the @: such an address needs SMTPUTF8 "
            "from every mail server on its way, which this mailer does not use; ask its owner "
            "for another address"
        )
    # "=?" would start an RFC 2047 encoded word, which mail programs decode even here.
    if not _LOCAL_PART.match(local) or dots_misplaced or "=?" in local:
        raise ValueError(
            f"{address!r} is not an email address we can send to "
            "(the part before @ must be plain ASCII letters, digits or . _ + -)"
        )
    ascii_domain = _ascii_domain(domain)
    if ascii_domain is None:
        raise ValueError(f"{address!r} has an invalid domain {domain!r}")
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise ValueError(f"{address!r} has an invalid domain {domain!r}")
    return f"{local}@{ascii_domain}"


def _ascii_domain(domain: str) -> str | None:
    """The domain as DNS and mail servers know it (IDNA 2008 with the UTS 46 mapping, as
    browsers and email-validator read it), or None when it is no domain name.

    Not Python's "idna" codec: that is IDNA 2003, which maps "straße.de" to "strasse.de" and
    drops a zero-width joiner, so a reader who typed one domain would be sent mail at another,
    whoever owns it."""
    if domain.isascii():
        return domain.lower()  # the labels are checked by the caller
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def as_written(address: str) -> str:
    """A stored address as its reader wrote it: an international domain in its own letters
    ("sam@bücher.de", not "sam@xn--bcher-kva.de"), for the text a reader reads; headers and the
    SMTP envelope keep the stored, ASCII one."""
    local, _, domain = address.rpartition("@")
    if "xn--" not in domain:
        return address
    try:
        return f"{local}@{idna.decode(domain)}"
    except (idna.IDNAError, UnicodeError):
        return address  # not one normalize_email made: shown as it is kept


def check_address(text: str) -> str:
    """An address to import, normalized; ValueError says why not.

    The mailer's own rule first (``normalize_email``: a plain ASCII local part, through which
    no header or encoded word can be smuggled, stricter than RFC 5322's), then email-validator
    on the domain (``check_deliverability=False``: no DNS lookup, so an import never waits on
    the network): special-use names, top-level domains, IDNA. The domain's verdict is kept per
    domain: a file of 20,000 readers has a few hundred domains, and IDNA checks are most of the
    cost of an import.
    """
    address = text.strip()
    if len(address) > MAX_EMAIL:
        raise ValueError(f"email of {len(address)} characters: at most {MAX_EMAIL}")
    normalized = normalize_email(address)
    problem = _domain_problem(normalized.rpartition("@")[2])
    if problem:
        raise ValueError(f"{address!r} is not an email address we can send to: {problem}")
    return normalized


@functools.lru_cache(maxsize=4096)
def _domain_problem(domain: str) -> str:
    """What email-validator finds wrong with an address at ``domain``, or ''."""
    try:
        validate_email(
            f"postmaster@{domain}",
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as error:
        return str(error)
    return ""
