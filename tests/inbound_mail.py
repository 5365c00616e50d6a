"""Inbound mail the tests write themselves: DSNs, bounces without a report, ARF reports, mailto."""

from __future__ import annotations

ORIGINAL_ID = "<12.345.abcdef012345@example.org>"


def returned_headers(return_path: str = "", list_unsubscribe: str = "") -> str:
    lines = [
        f"Return-Path: <{return_path}>" if return_path else "",
        "From: The Desk <desk@example.org>",
        "To: sam@example.net",
        "Subject: The Daily Brief",
        f"Message-ID: {ORIGINAL_ID}",
        f"List-Unsubscribe: {list_unsubscribe}" if list_unsubscribe else "",
    ]
    return "\r\n".join(line for line in lines if line) + "\r\n"


def dsn(
    *,
    to: str,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <sam@example.net>: Recipient address rejected",
    original: str = "",
    recipients: int = 1,
    groups: str = "",
) -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464); ``groups``, when
    given, are its per-recipient field groups as they are written."""
    blocks = groups or "".join(
        f"Final-Recipient: rfc822; reader{n}@example.net\r\n"
        f"Original-Recipient: rfc822;reader{n}@example.net\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Remote-MTA: dns; mx.example.net\r\nDiagnostic-Code: {diagnostic}\r\n\r\n"
        for n in range(recipients)
    )
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <20261125093000.1@mx.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
        "\r\n--B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.org.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\nArrival-Date: Wed, 25 Nov 2026 09:29:00 +0000\r\n"
        f"\r\n{blocks}"
        "--B1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{original or returned_headers()}"
        "\r\n--B1--\r\n"
    ).encode()


def plain_bounce(
    *,
    to: str,
    text: str,
    sender: str = "MAILER-DAEMON@mx.example.org",
    subject: str = "Undelivered Mail Returned to Sender",
    headers: str = "",
) -> bytes:
    """A bounce without a report part, as older and hosted servers write them; ``headers``
    are extra header lines, each ending in CRLF."""
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n{headers}"
        "Message-ID: <plain.1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="P"\r\n\r\n'
        f"--P\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        "--P\r\nContent-Type: message/rfc822\r\n\r\n"
        f"{returned_headers()}\r\nMessage 5.1.1 in our own text is not the bounce's.\r\n"
        "--P--\r\n"
    ).encode()


def arf(*, to: str, feedback_type: str = "abuse", original: str = "", mail_from: str = "") -> bytes:
    """An abuse report (RFC 5965) as a feedback loop sends one."""
    original_mail_from = f"Original-Mail-From: <{mail_from}>\r\n" if mail_from else ""
    return (
        "From: Feedback Loop <fbl@mail.example.net>\r\n"
        f"To: {to}\r\n"
        "Subject: FW: The Daily Brief\r\n"
        "Message-ID: <fbl.1@mail.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n'
        "\r\n--F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        "\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback_type}\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        f"{original_mail_from}"
        "Arrival-Date: Wed, 25 Nov 2026 09:00:00 +0000\r\n"
        "\r\n--F\r\nContent-Type: message/rfc822\r\n\r\n"
        f"{original or returned_headers()}\r\nThe day's stories.\r\n"
        "\r\n--F--\r\n"
    ).encode()


def mailto(*, to: str, subject: str, message_id: str = "<unsub.1@mail.example.net>") -> bytes:
    """What a mail program sends for List-Unsubscribe's mailto."""
    return (
        f"From: sam@example.net\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n\r\nunsubscribe\r\n"
    ).encode()
