"""Privacy requests: everything held on one person, and forgetting them.

    export_person(email) ─► the store's record of them (subscriber, memberships, history,
                            suppression, deliveries from the ledger) as JSON-ready data
    forget(email)        ─► the store erases them and keeps the address's key as a "forgotten"
                            suppression (digest.store.people) ─► their lines taken out of the
                            suppression file, so no copy of the address is left there

The key (digest.addresses) is what refuses the address at any later import, and it cannot be
turned back into the address. The email is looked up as the service holds addresses (its domain
in ASCII, "bücher.de" as "xn--bcher-kva.de", as imports and sign-ups store it) and lowercased; an
address the service never held is forgotten all the same (its key is kept), so a request is
always honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest.addresses import mailbox_key
from digest.config import Settings
from digest.mail.reader_addresses import BRACKETED, normalize_email
from digest.store import Store
from digest.suppression import remove_address


@dataclass(frozen=True, slots=True)
class ForgetOutcome:
    found: bool
    memberships: int  # memberships unsubscribed
    deliveries: int  # ledger rows anonymised
    file_lines: int  # lines taken out of the suppression file


def export_person(store: Store, address_key: Callable[[str], str], email: str) -> dict[str, Any]:
    """Everything the database holds on the person with ``email``."""
    held = as_held(email)
    return store.person(held, address_key(held))


def as_held(email: str) -> str:
    """``email`` as imports and sign-ups store it: a person writes their address with its
    internationalized domain ("sam@bücher.de"), the service holds it in IDNA
    ("sam@xn--bcher-kva.de"); looked up as typed, it would be found nowhere, and its key would
    refuse no later import. An address pasted as a mail program shows it ("Jane Doe
    <jane@x.org>", from the request's own mail) is the address in the brackets. Other text that
    is no address is taken as given."""
    pasted = BRACKETED.fullmatch(email.strip())
    if pasted:
        email = pasted.group(1)
    try:
        return normalize_email(email)
    except ValueError:
        return email.strip()


def forget(
    settings: Settings,
    store: Store,
    address_key: Callable[[str], str],
    email: str,
    now: datetime,
) -> ForgetOutcome:
    """Erase the person with ``email``; they are never imported or mailed again."""
    held = as_held(email)
    done = store.forget(held, address_key(held), now, mailbox_key=mailbox_key(address_key, held))
    lines = remove_address(settings.service.suppression_path, held)
    return ForgetOutcome(done.found, done.memberships, done.deliveries, lines)
