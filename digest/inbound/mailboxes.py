"""The addresses the inbound receiver takes mail for, and the delivery a return path names."""

from __future__ import annotations

from dataclasses import dataclass

from digest.config import Settings
from digest.mail.tokens import InvalidToken, TokenSigner


@dataclass(frozen=True, slots=True)
class Mailboxes:
    """The bounce mailbox (``local_part`` and ``local_part+TOKEN`` at the bounce domain) and the
    unsubscribe address; everything else is refused."""

    bounce_local_part: str  # lowercased
    bounce_domain: str  # lowercased
    unsubscribe_address: str  # lowercased

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailboxes:
        return cls(
            bounce_local_part=settings.bounces.local_part.lower(),
            bounce_domain=settings.bounce_domain,
            unsubscribe_address=settings.service.unsubscribe_mailbox.lower(),
        )

    @property
    def bounce_address(self) -> str:
        return f"{self.bounce_local_part}@{self.bounce_domain}"

    def is_unsubscribe(self, address: str) -> bool:
        return _bare(address).lower() == self.unsubscribe_address

    def is_bounce(self, address: str) -> bool:
        local, _, domain = _bare(address).lower().rpartition("@")
        if domain != self.bounce_domain:
            return False
        return local == self.bounce_local_part or local.startswith(self.bounce_local_part + "+")

    def accepts(self, address: str) -> bool:
        return self.is_unsubscribe(address) or self.is_bounce(address)

    def delivery_in(self, address: str, signer: TokenSigner) -> tuple[int, int] | None:
        """The (edition id, subscriber id) that ``address``, a return path of ours, names; None
        for any other address or a token that does not verify."""
        if not self.is_bounce(address):
            return None
        local = _bare(address).rpartition("@")[0]
        token = local.partition("+")[2]
        if not token:
            return None
        try:
            return signer.read_delivery_token(token)
        except InvalidToken:
            return None


def _bare(address: str) -> str:
    """``<a@b>`` or ``Name <a@b>`` as ``a@b``."""
    text = address.strip()
    if "<" in text and text.endswith(">"):
        text = text[text.rfind("<") + 1 : -1]
    return text.strip()
