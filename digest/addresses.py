"""The key a suppression is kept under: an address recognised without being kept.

``address_key`` is an HMAC-SHA-256 of the lowercased address under the service's secret key.
A forgotten address leaves only its key in the database: an import or a sign-up of the same
address computes the same key and is refused, while the database alone gives the address back
to nobody. The key depends on the secret (DIGEST_SECRET_KEY or data_dir/secret_key): keep it
as you keep the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable


def address_key(secret: bytes, address: str) -> str:
    """The HMAC-SHA-256 of the lowercased address under ``secret``, in hex."""
    return hmac.new(secret, address.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


def key_function(secret: str) -> Callable[[str], str]:
    """``address_key`` bound to ``secret``."""
    secret_bytes = secret.encode("utf-8")

    def key(address: str) -> str:
        return address_key(secret_bytes, address)

    return key


# Domains that reach one account's mailbox, each by the name its family is counted under:
# Gmail's two, iCloud's three, Proton's four and Yandex's (every account is reached at each).
_SAME_MAILBOX = {
    "googlemail.com": "gmail.com",
    "me.com": "icloud.com",
    "mac.com": "icloud.com",
    "protonmail.com": "proton.me",
    "protonmail.ch": "proton.me",
    "pm.me": "proton.me",
    **dict.fromkeys(("ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua"), "yandex.ru"),
}
# Providers whose mailboxes ignore the dots of the local part.
_DOTLESS = frozenset({"gmail.com"})


def mailbox_of(address: str) -> str:
    """The mailbox ``address`` reaches, as far as a sender can tell: lowercased, without a
    "+tag" (subaddressing, which nearly every provider delivers to the same mailbox), at the
    domain its provider's family is counted under ("ann@me.com" is "ann@icloud.com"), and for
    Gmail without dots. Many spellings of one reader's address are one mailbox here, so that a
    limit counted per address cannot be stepped round by writing it another way
    ("ann+1@", "a.nn@", "Ann@", "ann@pm.me"). Only for counting: mail goes to the address as
    written."""
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.partition("+")[0] or local
    domain = _SAME_MAILBOX.get(domain, domain)
    if domain in _DOTLESS:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def mailbox_key(address_key: Callable[[str], str], address: str) -> str:
    """The key of the mailbox ``address`` reaches (``mailbox_of``) under ``address_key``: what a
    suppression keeps beside its own key, and what a sign-up form is checked against."""
    return address_key(mailbox_of(address))


def without_addresses(text: str, addresses: Iterable[str], stand_in: str) -> str:
    """``text`` with each of ``addresses`` (in any case: a mail server may quote one lowered)
    replaced by ``stand_in``, for what a log or a task's result tells of one reader: a refusal's
    text quotes the recipient, and a log of every refusal would list the readers."""
    for address in sorted({address for address in addresses if address}, key=len, reverse=True):
        text = re.sub(re.escape(address), stand_in, text, flags=re.IGNORECASE)
    return text


def domain_only(address: str) -> str:
    """``address`` as a log names someone who may be a reader: "…@example.org", its domain
    enough to tell a provider's system from a person, the mailbox left out. Text with no "@"
    (the null sender of a bounce, "MAILER-DAEMON") is no one's address and is kept."""
    local, at, domain = address.rpartition("@")
    return f"…@{domain}" if at and local else address
