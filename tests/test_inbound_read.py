"""Reading inbound mail: DSNs, plain bounces, ARF complaints, mailto unsubscribes, hostile input."""

from __future__ import annotations

import base64
import hashlib
import quopri
import time

import pytest

from digest.inbound.bounces import DELAY_WARNING, refusal_faults_the_address
from digest.inbound.events import InboundEvent, Reading
from digest.inbound.mailboxes import Mailboxes
from digest.inbound.read import read_inbound
from digest.mail.tokens import TokenSigner
from tests import inbound_mail

SIGNER = TokenSigner("inbound-secret-0123456789")
OTHER = TokenSigner("someone-elses-secret-0123")
MAILBOXES = Mailboxes("bounces", "example.org", "unsubscribe@example.org")
VERP = f"bounces+{SIGNER.delivery_token(12, 345)}@example.org"
FORGED = f"bounces+{OTHER.delivery_token(12, 345)}@example.org"
UNSUBSCRIBE = "unsubscribe@example.org"
TOKEN = SIGNER.unsubscribe_token(345, "daily")
# A mail program may encode the subject (RFC 2047) though it is ASCII.
ENCODED = "=?utf-8?b?" + base64.b64encode(f"unsubscribe-{TOKEN}".encode()).decode() + "?="
OTHER_TOKEN = OTHER.unsubscribe_token(345, "daily")
LIST_UNSUBSCRIBE = (
    f"<https://news.example.org/unsubscribe/{TOKEN}>,\r\n"
    f" <mailto:{UNSUBSCRIBE}?subject=unsubscribe-{TOKEN}>"
)


def read(data: bytes, to: str) -> Reading:
    return read_inbound(data, recipients=[to], mailboxes=MAILBOXES, signer=SIGNER)


def one(reading: Reading) -> InboundEvent:
    assert reading.ignored is None, reading.ignored
    [event] = reading.events
    return event


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind"),
    [
        ("failed", "5.1.1", "smtp; 550 5.1.1 user unknown", "hard-bounce"),
        ("failed", "5.0.0", "smtp; 550 no such user", "hard-bounce"),
        ("failed", "5.2.1", "smtp; 550 5.2.1 mailbox disabled", "hard-bounce"),
        ("failed", "4.4.7", "delivery time expired", "soft-bounce"),
        ("failed", "5.2.2", "smtp; 552 5.2.2 mailbox full", "soft-bounce"),
        ("failed", "5.7.1", "smtp; 550 5.7.1 listed at a blocklist", "soft-bounce"),
        ("failed", "", "smtp; 550 5.1.1 user unknown", "hard-bounce"),  # status in diagnostic
        ("failed", "", "", "soft-bounce"),
    ],
)
def test_a_dsn_is_a_hard_or_soft_bounce_of_the_delivery_its_return_path_names(
    action: str, status: str, diagnostic: str, kind: str
) -> None:
    data = inbound_mail.dsn(to=VERP, action=action, status=status, diagnostic=diagnostic)
    event = one(read(data, VERP))
    assert (event.kind, event.subscriber_id, event.source) == (kind, 345, "smtp")
    assert event.event_id == f"{kind}:delivery 12.345"


def test_a_delay_warning_is_no_bounce_until_the_copy_fails() -> None:
    # Counted as a soft bounce, five copies delayed by a slow server (each arriving in the end)
    # suppressed a reader who had every one of them.
    delayed = inbound_mail.dsn(
        to=VERP,
        action="delayed",
        status="4.4.1",
        diagnostic="connect to mx.example.net: Connection timed out",
    )
    reading = read(delayed, VERP)
    assert reading.events == ()
    assert reading.ignored is not None and "still being tried" in reading.ignored
    failed = inbound_mail.dsn(to=VERP, action="failed", status="4.4.7", diagnostic="expired")
    assert one(read(failed, VERP)).kind == "soft-bounce"


@pytest.mark.parametrize(
    ("status", "diagnostic"),
    [
        ("5.2.3", "smtp; 552-5.2.3 Your message exceeded Google's message size limits."),
        ("5.6.0", "smtp; 554 5.6.0 Message content rejected"),
        ("5.6.1", "smtp; 550 5.6.1 Media not supported"),
        ("5.3.1", "smtp; 452 5.3.1 Mail system full"),
        ("5.3.2", "smtp; 554 5.3.2 System not accepting network messages"),
        ("5.4.7", "X-Postfix; 5.4.7 delivery time expired"),
        # Microsoft 365, when the reader's server did not answer for days
        ("5.4.316", "smtp; 550 5.4.316 Message expired, connection refused"),
        ("5.4.318", "smtp; 550 5.4.318 Message expired, connection dropped"),
    ],
)
def test_a_failure_the_message_or_the_receiving_system_caused_is_only_soft(
    status: str, diagnostic: str
) -> None:
    # The edition too big for the reader's mailbox, or its content refused: every reader of the
    # same edition at that provider would be suppressed for the service's own problem.
    dsn = inbound_mail.dsn(to=VERP, status=status, diagnostic=diagnostic)
    assert one(read(dsn, VERP)).kind == "soft-bounce"
    plain = inbound_mail.plain_bounce(to=VERP, text=f"host mx.example.net said: {diagnostic}")
    assert one(read(plain, VERP)).kind == "soft-bounce"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("552 Message size exceeds fixed limit", "soft-bounce"),
        ("552 Requested mail action aborted: exceeded storage allocation", "soft-bounce"),
        ("550 Requested action not taken: mailbox unavailable", "hard-bounce"),
    ],
)
def test_a_reply_without_an_enhanced_code_is_read_by_its_basic_code(reply: str, kind: str) -> None:
    # 552 is a mailbox full or a message too big (RFC 5321), as 5.2.2 and 5.3.4 are; Postfix
    # reports a server's reply without an enhanced code as Status 5.0.0.
    dsn = inbound_mail.dsn(to=VERP, status="5.0.0", diagnostic=f"smtp; {reply}")
    assert one(read(dsn, VERP)).kind == kind
    text = f"SMTP error from remote mail server after end of data:\n    {reply}"
    assert one(read(inbound_mail.plain_bounce(to=VERP, text=text), VERP)).kind == kind


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded"])
def test_a_dsn_of_success_changes_nothing(action: str) -> None:
    reading = read(inbound_mail.dsn(to=VERP, action=action, status="2.0.0"), VERP)
    assert reading.events == () and "no failure" in (reading.ignored or "")


def test_a_dsn_of_two_recipients_both_failed_is_hard() -> None:
    data = inbound_mail.dsn(to=VERP, recipients=2)  # both failed 5.1.1
    assert one(read(data, VERP)).kind == "hard-bounce"


def _recipient(action: str, status: str) -> str:
    return (
        f"Final-Recipient: rfc822; sam@example.net\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\r\n\r\n"
    )


@pytest.mark.parametrize("failed_first", [True, False], ids=["failed first", "delayed first"])
def test_a_dsn_with_a_failure_among_delays_is_hard(failed_first: bool) -> None:
    # Whatever the order of its recipients' groups, one failed for good is a hard bounce,
    # with what it said; the delay beside it is no reason to wait.
    groups = [_recipient("failed", "5.1.1"), _recipient("delayed", "4.4.1")]
    data = inbound_mail.dsn(to=VERP, groups="".join(groups if failed_first else groups[::-1]))
    event = one(read(data, VERP))
    assert event.kind == "hard-bounce"
    assert event.detail == "failed 5.1.1 smtp; 550 5.1.1 user unknown"


@pytest.mark.parametrize(
    ("diagnostic", "kind"),
    [
        ("smtp; 552 5.2.2 mailbox full", "soft-bounce"),
        ("smtp; 550 5.7.1 blocked by policy", "soft-bounce"),
        ("smtp; 550 5.1.1 no such user", "hard-bounce"),
    ],
)
def test_a_status_of_5_0_0_is_read_by_the_enhanced_code_its_reply_quotes(
    diagnostic: str, kind: str
) -> None:
    # Postfix writes 5.0.0 for a reply whose own enhanced code it did not carry over: a full
    # mailbox or a blocklist then suppressed the reader as if the address were gone.
    data = inbound_mail.dsn(to=VERP, status="5.0.0", diagnostic=diagnostic)
    assert one(read(data, VERP)).kind == kind


@pytest.mark.parametrize(
    "to", [FORGED, "bounces@example.org", "bounces+12-345-0000@example.org", "bounces+@example.org"]
)
def test_a_dsn_without_a_valid_return_path_token_names_nobody(to: str) -> None:
    reading = read(inbound_mail.dsn(to=to), to)
    assert reading.events == () and "no valid VERP" in (reading.ignored or "")


def test_the_returned_messages_return_path_names_the_delivery_when_the_envelope_lost_it() -> None:
    original = inbound_mail.returned_headers(return_path=VERP)
    data = inbound_mail.dsn(to="bounces@example.org", original=original)
    assert one(read(data, "bounces@example.org")).subscriber_id == 345


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("<sam@example.net>: host mx said: 550 5.1.1 User unknown (in reply to RCPT TO)", "hard"),
        (
            "SMTP error from remote mail server after RCPT TO:<sam@example.net>:\n550 No such user",
            "hard",
        ),
        ("host mx said: 452 4.2.2 Mailbox full, try later", "soft"),
        ("The mail server said 550 5.1.1 at first, then 421 4.7.0 try again later", "soft"),
    ],
)
def test_a_bounce_without_a_report_part_is_read_from_its_smtp_codes(text: str, kind: str) -> None:
    event = one(read(inbound_mail.plain_bounce(to=VERP, text=text), VERP))
    assert (event.kind, event.subscriber_id) == (f"{kind}-bounce", 345)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # Postfix's text for a server it could not reach: the address's octets are no status.
        ("<sam@example.net>: connect to mx.example.net[52.5.1.100]:25: Connection timed out", None),
        ("host mx.example.net [10.5.1.20] refused the connection; retry timeout exceeded", None),
        ("host 10.5.1.20 said: 451 4.3.0 try again later", "soft"),
        ("qmail: Sorry, no mailbox here by that name. (#5.1.1)", "hard"),
        ("host mx said: 550-5.1.1 The email account does not exist.", "hard"),
    ],
)
def test_an_ip_address_in_a_bounce_is_not_read_as_a_status_code(
    text: str, kind: str | None
) -> None:
    reading = read(inbound_mail.plain_bounce(to=VERP, text=text), VERP)
    assert [event.kind for event in reading.events] == ([f"{kind}-bounce"] if kind else [])
    dsn = inbound_mail.dsn(to=VERP, status="", diagnostic=f"X-Postfix; {text}")
    assert one(read(dsn, VERP)).kind == f"{kind or 'soft'}-bounce"


def test_a_bounce_without_codes_or_from_no_mailer_daemon_is_ignored() -> None:
    nothing = read(inbound_mail.plain_bounce(to=VERP, text="It did not work, sorry."), VERP)
    assert nothing.events == () and "SMTP code" in (nothing.ignored or "")
    # Only the returned message (our own text) holds a code: not the bounce's word.
    assert read(inbound_mail.plain_bounce(to=VERP, text="Could not deliver."), VERP).events == ()
    reply = (
        f"From: sam@example.net\r\nTo: {VERP}\r\nSubject: Re: The Daily Brief\r\n\r\n"
        "Thanks! Our office is at 550 Main Street, suite 5.1.1.\r\n"
    ).encode()
    reading = read(reply, VERP)
    assert reading.events == () and "not a bounce" in (reading.ignored or "")
    # An out-of-office reply comes from the null sender too (RFC 3834).
    away = (
        f"From: Sam <sam@example.net>\r\nTo: {VERP}\r\nSubject: Out of office\r\n"
        "Auto-Submitted: auto-replied\r\n\r\nBack on 5.1.24; the mail server said 550 hi.\r\n"
    ).encode()
    assert read(away, VERP).events == ()


EXIM_FAILURE = (
    "This message was created automatically by mail delivery software.\r\n\r\n"
    "A message that you sent could not be delivered to one or more of its\r\n"
    "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
    "  sam@example.net\r\n"
    "    SMTP error from remote mail server after RCPT TO:<sam@example.net>:\r\n"
    "    550 5.1.1 <sam@example.net>: Recipient address rejected: User unknown\r\n"
)


def test_a_bounce_marked_auto_replied_by_its_mailer_daemon_is_still_a_bounce() -> None:
    # Exim (and Postfix) put RFC 3834's mark on their own bounces.
    data = inbound_mail.plain_bounce(
        to=VERP,
        text=EXIM_FAILURE,
        sender="Mail Delivery System <Mailer-Daemon@mx.example.net>",
        subject="Mail delivery failed: returning message to sender",
        headers="Auto-Submitted: auto-replied\r\n",
    )
    event = one(read(data, VERP))
    assert (event.kind, event.subscriber_id) == ("hard-bounce", 345)


@pytest.mark.parametrize("mark", ["X-Autoreply: yes", "Precedence: auto_reply", "X-Autorespond: 1"])
def test_an_auto_reply_is_never_a_bounce_whoever_it_seems_to_come_from(mark: str) -> None:
    # A help desk's auto-responder, from its postmaster, quoting a date and a ticket number.
    data = inbound_mail.plain_bounce(
        to=VERP,
        text="Your mail reached us; reply 550 tickets ahead of yours. We are back on 5.1.27.",
        sender="Postmaster <postmaster@example.net>",
        subject="Re: The Daily Brief",
        headers=f"{mark}\r\n",
    )
    reading = read(data, VERP)
    assert reading.events == () and "not a bounce" in (reading.ignored or "")


# Delay warnings as servers write them without a report part: an old Exim's, an old Sendmail's,
# Exchange's. Each quotes the server's temporary refusal, and each copy most often arrives.
EXIM_DELAY = (
    "Warning: message 1kXyz-000123-AB delayed 24 hours",
    "This message was created automatically by mail delivery software.\r\n"
    "A message that you sent has not yet been delivered to one or more of its\r\n"
    "recipients after more than 24 hours on the queue on mx.example.org.\r\n\r\n"
    "The address to which the message has not yet been delivered is:\r\n\r\n"
    "  sam@example.net\r\n"
    "    host mx.example.net [192.0.2.1]: 451 4.7.1 Greylisted, try again later\r\n\r\n"
    "No action is required on your part. Delivery attempts will continue for\r\n"
    "some time, and this warning may be repeated at intervals if the message\r\n"
    "remains undelivered.\r\n",
)
SENDMAIL_DELAY = (
    "Warning: could not send message for past 4 hours",
    "    **********************************************\r\n"
    "    **      THIS IS A WARNING MESSAGE ONLY      **\r\n"
    "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\r\n"
    "    **********************************************\r\n\r\n"
    "   ----- Transcript of session follows -----\r\n"
    "<sam@example.net>... Deferred: 421 4.4.2 mx.example.net: connection timed out\r\n"
    "Warning: message still undelivered after 4 hours\r\n"
    "Will keep trying until message is 5 days old\r\n",
)
EXCHANGE_DELAY = (
    "Delivery Status Notification (Delay)",
    "This is an automatically generated Delivery Status Notification.\r\n\r\n"
    "Delivery to the following recipients has been delayed.\r\n\r\n"
    "       sam@example.net\r\n"
    "Remote server said: 450 4.2.1 The user you are trying to contact is receiving mail "
    "too quickly\r\n",
)


@pytest.mark.parametrize(("subject", "text"), [EXIM_DELAY, SENDMAIL_DELAY, EXCHANGE_DELAY])
def test_a_delay_warning_without_a_report_part_is_no_bounce_either(subject: str, text: str) -> None:
    # Read from its quoted 4.x.x code, it was a soft bounce: five copies delayed by a slow or
    # greylisting server, each arriving in the end, suppressed a reader who had every one.
    data = inbound_mail.plain_bounce(
        to=VERP,
        text=text,
        sender="Mail Delivery System <Mailer-Daemon@mx.example.org>",
        subject=subject,
    )
    reading = read(data, VERP)
    assert reading.events == ()
    assert reading.ignored is not None and "still being tried" in reading.ignored
    # The failure that ends the same copy's tries still counts.
    failed = inbound_mail.plain_bounce(
        to=VERP, text="host mx.example.net said: 450 4.2.1 try again later; retry time expired"
    )
    assert one(read(failed, VERP)).kind == "soft-bounce"


# An edition of a technology newsletter, as the copy a plain bounce returns holds it.
OUR_EDITION = (
    f"{inbound_mail.returned_headers()}\r\n"
    "Django 4.2.1 is out; the status page said error 503 for an hour.\r\n"
)
QMAIL = (
    "Hi. This is the qmail-send program at mx.example.net.\r\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
    "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
    "<sam@example.net>:\r\n{reason}\r\n\r\n"
    "--- Below this line is a copy of the message.\r\n\r\n"
)
EXIM_COPY = "------ This is a copy of the message, including all the headers. ------\r\n\r\n"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (QMAIL.format(reason="Sorry, no mailbox here by that name. (#5.1.1)"), "hard-bounce"),
        # a .qmail's own words, no code: nothing to read
        (QMAIL.format(reason="This address no longer accepts mail."), None),
        (f"{EXIM_FAILURE}\r\n{EXIM_COPY}", "hard-bounce"),
    ],
)
def test_the_copy_of_our_message_a_bounce_appends_to_its_text_is_not_read(
    text: str, kind: str | None
) -> None:
    data = (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {VERP}\r\nSubject: failure notice\r\n"
        f"Message-ID: <qmail.1@mx.example.net>\r\n\r\n{text}{OUR_EDITION}"
    ).encode()
    reading = read(data, VERP)
    assert [event.kind for event in reading.events] == ([kind] if kind else [])


@pytest.mark.parametrize(
    ("subject", "text", "kind"),
    [
        # A delay told by its text alone, under a subject any bounce may have.
        (
            "Undelivered Mail Returned to Sender",
            "This is a warning message only. Host said: 451 4.4.1 try again later",
            None,
        ),
        # A delay told by its subject alone.
        ("Warning: message 1abc delayed 24 hours", "Host said: 451 4.4.1 try again later", None),
        # A warning that also reports a failure for good: the failure counts.
        (
            "Warning: message delayed",
            "Delivery attempts will continue. Host said: 550 5.1.1 user unknown",
            "hard-bounce",
        ),
    ],
)
def test_a_plain_bounce_is_a_delay_by_its_subject_or_its_text_unless_it_failed_for_good(
    subject: str, text: str, kind: str | None
) -> None:
    reading = read(inbound_mail.plain_bounce(to=VERP, subject=subject, text=text), VERP)
    if kind is None:
        assert reading.events == () and reading.ignored == DELAY_WARNING
    else:
        assert one(reading).kind == kind


def test_an_out_of_office_reply_to_the_bounce_address_is_no_bounce() -> None:
    # RFC 3834's mark on a person's answer: its dates read like status codes ("back on 5.1.24").
    data = inbound_mail.plain_bounce(
        to=VERP,
        sender="Sam <sam@example.net>",
        subject="Automatic reply: mail could not be delivered to my desk",
        text="I am away; back on 5.1.24.",
        headers="Auto-Submitted: Auto-Replied\r\n",
    )
    reading = read(data, VERP)
    assert reading.events == () and "not a bounce" in (reading.ignored or "")


def _returned_first(text: str, returned: str) -> bytes:
    """A bounce whose copy of our message comes before its own text."""
    return (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {VERP}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="P"\r\n\r\n'
        f"--P\r\nContent-Type: message/rfc822\r\n\r\n{returned}\r\n"
        f"--P\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--P--\r\n"
    ).encode()


def test_a_bounce_is_read_in_its_own_parts_wherever_its_copy_of_our_message_stands() -> None:
    # The edition returned, a multipart of its own, says "5.1.1" and "error 550" in its stories:
    # read as the bounce's, they suppressed a reader whose mailbox was only full.
    edition = (
        inbound_mail.returned_headers()
        + 'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="E"\r\n\r\n'
        "--E\r\nContent-Type: text/plain\r\n\r\nDjango 5.1.1 is out; error 550 fixed.\r\n"
        "--E\r\nContent-Type: text/html\r\n\r\n<p>Django 5.1.1 is out</p>\r\n--E--"
    )
    data = _returned_first("Host mx.example.net said: 552 5.2.2 mailbox full", edition)
    event = one(read(data, VERP))
    assert event.kind == "soft-bounce"
    assert event.detail == "no report part; codes 5.2.2, 552"


def test_a_plain_bounce_with_a_forged_token_is_ignored() -> None:
    data = inbound_mail.plain_bounce(to=FORGED, text="host mx said: 550 5.1.1 User unknown")
    assert read(data, FORGED).events == ()


@pytest.mark.parametrize(
    ("original", "mail_from"),
    [
        (inbound_mail.returned_headers(return_path=VERP), ""),
        (inbound_mail.returned_headers(list_unsubscribe=LIST_UNSUBSCRIBE), ""),
        (inbound_mail.returned_headers(), VERP),  # only the report's Original-Mail-From
        (  # the https URL only, the address redacted as many providers do
            inbound_mail.returned_headers(
                list_unsubscribe=f"<https://news.example.org/unsubscribe/{TOKEN}>"
            ),
            "",
        ),
    ],
)
def test_an_abuse_report_is_a_complaint_about_the_reader_its_tokens_name(
    original: str, mail_from: str
) -> None:
    data = inbound_mail.arf(to="bounces@example.org", original=original, mail_from=mail_from)
    event = one(read(data, "bounces@example.org"))
    assert (event.kind, event.subscriber_id, event.source) == ("complaint", 345, "smtp")
    assert event.detail == "feedback type abuse; ExampleFBL/1.0"
    # One complaint per copy however many reports come of it: by the delivery a return path
    # names, else by the returned message's id and its reader.
    by_verp = VERP in original or mail_from
    about = "delivery 12.345" if by_verp else f"{inbound_mail.ORIGINAL_ID}:345"
    assert event.event_id == f"complaint:{about}"


def test_an_abuse_report_without_the_returned_message_names_its_reader_by_mail_from() -> None:
    # Some feedback loops send the report part alone, the reader named by Original-Mail-From.
    data = inbound_mail.arf(to="bounces@example.org", mail_from=VERP)
    start = data.index(b"\r\n--F\r\nContent-Type: message/rfc822")
    event = one(read(data[:start] + b"\r\n--F--\r\n", "bounces@example.org"))
    assert (event.kind, event.subscriber_id, event.event_id) == (
        "complaint",
        345,
        "complaint:delivery 12.345",
    )


def test_an_abuse_report_without_fields_is_ignored() -> None:
    data = inbound_mail.arf(to="bounces@example.org").replace(
        b"Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        b"Arrival-Date: Wed, 25 Nov 2026 09:00:00 +0000\r\n",
        b"",
    )
    reading = read(data, "bounces@example.org")
    assert reading.events == () and "of type 'none'" in (reading.ignored or "")


def _encoded(text: str, encoding: str) -> str:
    data = text.replace("\r\n", "\n").encode()  # line ends stay line ends, not =0D
    encoded = base64.encodebytes(data) if encoding == "base64" else quopri.encodestring(data)
    return encoded.decode().replace("\n", "\r\n")


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
def test_returned_headers_in_a_transfer_encoding_still_name_the_reader(encoding: str) -> None:
    # text/rfc822-headers is a text part: base64 and quoted-printable are as valid for it as
    # for any other, and a report written with a MIME library's text part comes so.
    part = f"Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    redacted = inbound_mail.returned_headers(list_unsubscribe=LIST_UNSUBSCRIBE)
    complaint = inbound_mail.arf(to="bounces@example.org").replace(
        f"Content-Type: message/rfc822\r\n\r\n{inbound_mail.returned_headers()}".encode(),
        f"{part}{_encoded(redacted, encoding)}".encode(),
    )
    assert b"rfc822-headers" in complaint
    event = one(read(complaint, "bounces@example.org"))
    assert (event.kind, event.subscriber_id) == ("complaint", 345)
    returned = inbound_mail.returned_headers(return_path=VERP)
    dsn = inbound_mail.dsn(to="bounces@example.org", original=_encoded(returned, encoding))
    dsn = dsn.replace(b"Content-Type: text/rfc822-headers\r\n\r\n", part.encode())
    event = one(read(dsn, "bounces@example.org"))
    assert (event.kind, event.subscriber_id) == ("hard-bounce", 345)


def test_a_complaint_without_a_token_of_ours_or_not_abuse_is_ignored() -> None:
    forged = inbound_mail.returned_headers(
        return_path=FORGED,
        list_unsubscribe=f"<https://news.example.org/unsubscribe/{OTHER_TOKEN}>",
    )
    reading = read(
        inbound_mail.arf(to="bounces@example.org", original=forged), "bounces@example.org"
    )
    assert reading.events == () and "no reader of ours" in (reading.ignored or "")
    not_spam = inbound_mail.arf(
        to="bounces@example.org",
        feedback_type="not-spam",
        original=inbound_mail.returned_headers(return_path=VERP),
    )
    reading = read(not_spam, "bounces@example.org")
    assert reading.events == () and "not-spam" in (reading.ignored or "")


@pytest.mark.parametrize(
    "subject",
    [f"unsubscribe-{TOKEN}", f"Re: unsubscribe-{TOKEN}", ENCODED],
)
def test_a_mail_to_the_unsubscribe_address_unsubscribes_from_its_tokens_list(subject: str) -> None:
    event = one(read(inbound_mail.mailto(to=UNSUBSCRIBE, subject=subject), UNSUBSCRIBE))
    assert (event.kind, event.subscriber_id, event.list_slug) == ("unsubscribe", 345, "daily")


@pytest.mark.parametrize(
    "subject",
    [
        "unsubscribe",
        f"unsubscribe-{OTHER.unsubscribe_token(345, 'daily')}",
        f"unsubscribe-{SIGNER.preferences_token(345, 'daily')}",  # a token for another action
        f"unsubscribe-{TOKEN[:-2]}",
    ],
)
def test_a_mail_to_the_unsubscribe_address_without_a_valid_token_is_ignored(subject: str) -> None:
    reading = read(inbound_mail.mailto(to=UNSUBSCRIBE, subject=subject), UNSUBSCRIBE)
    assert reading.events == () and reading.ignored


def test_the_same_mailto_delivered_twice_has_one_event_id() -> None:
    data = inbound_mail.mailto(to=UNSUBSCRIBE, subject=f"unsubscribe-{TOKEN}")
    assert one(read(data, UNSUBSCRIBE)).event_id == one(read(data, UNSUBSCRIBE)).event_id
    other = inbound_mail.mailto(
        to=UNSUBSCRIBE, subject=f"unsubscribe-{TOKEN}", message_id="<again@x>"
    )
    assert one(read(other, UNSUBSCRIBE)).event_id != one(read(data, UNSUBSCRIBE)).event_id


def _nested(depth: int) -> bytes:
    head = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n' for n in range(depth)
    )
    top = f"From: x@example.net\r\nTo: {VERP}\r\n"
    return f"{top}{head}Content-Type: text/plain\r\n\r\nhi\r\n".encode()


def _nested_messages(depth: int) -> bytes:
    return (
        f"From: x@example.net\r\nTo: {VERP}\r\n"
        + "Content-Type: message/rfc822\r\n\r\n" * depth
        + "Subject: x\r\n\r\nbody\r\n"
    ).encode()


HOSTILE = {
    "empty": b"",
    "not mail": b"\x00\xff\xfe" * 1000,
    "deep multipart": _nested(5000),
    "deep message/rfc822": _nested_messages(5000),
    "many parts": b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
    + b"--x\r\nContent-Type: text/plain\r\n\r\n550 5.1.1\r\n" * 5000,
    "report without parts": b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\n",
    "unknown charsets": (
        b"Subject: =?x-unknown?b?AAAA?= =?utf-8?q?broken=ZZ?=\r\nFrom: MAILER-DAEMON\r\n"
        b'Content-Type: text/plain; charset="x-klingon"\r\nContent-Transfer-Encoding: base64\r\n'
        b"\r\n!!!not base64!!!\r\n"
    ),
    "dsn with a broken status part": (
        b'Content-Type: multipart/report; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: message/delivery-status\r\n\r\n\x00\x01Action\r\n--B--\r\n"
    ),
    "arf without its parts": (
        b'Content-Type: multipart/report; boundary="F"\r\n\r\n--F\r\n'
        b"Content-Type: message/feedback-report\r\n\r\n--F--\r\n"
    ),
    "mailto with a huge subject": inbound_mail.mailto(
        to=UNSUBSCRIBE, subject="unsubscribe-" + "A" * 500_000
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_mail_is_ignored_with_a_reason_and_never_raises(name: str) -> None:
    for to in (VERP, UNSUBSCRIBE):
        reading = read(HOSTILE[name], to)
        assert reading.events == () and reading.ignored, name


def test_a_part_whose_charset_no_codec_can_be_named_by_costs_only_that_part(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A NUL in a charset parameter made the email package raise ValueError on the part's 8-bit
    # text: the whole DSN was dropped as unreadable, with a traceback in the log.
    data = inbound_mail.dsn(to=VERP).replace(
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n",
        b"Content-Type: text/plain; charset=us-ascii\x00\r\n\r\nUnzustellbar: \xfc\r\n",
    )
    assert one(read(data, VERP)).kind == "hard-bounce"
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_a_header_of_many_encoded_words_is_read_in_bounded_time() -> None:
    # The email package decodes encoded words in quadratic time: 150,000 of them in one header,
    # 1.5 MB (under max_message_bytes), held the receiver's one worker thread for a minute.
    words = "=?x-unknown?q?a?= " * 150_000
    data = (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {words}\r\nSubject: {words}\r\n"
        "\r\nhost mx said: 550 5.1.1 User unknown\r\n"
    ).encode()
    start = time.perf_counter()
    reading = read(data, VERP)
    assert time.perf_counter() - start < 10
    assert [event.kind for event in reading.events] == ["hard-bounce"]


def test_a_message_of_many_parts_is_refused_in_linear_time() -> None:
    # 10x the parts cost about 10x the time (refused before parsing), far from quadratic's 100x.
    def seconds(parts: int) -> float:
        data = (
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
            + b"--x\r\nContent-Type: text/plain\r\n\r\nx\r\n" * parts
        )
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            reading = read(data, VERP)
            best = min(best, time.perf_counter() - start)
        assert reading.events == () and "lines that may start parts" in (reading.ignored or "")
        return best

    small, large = seconds(20_000), seconds(200_000)
    assert large < 30 * small


def test_parts_cut_at_bare_carriage_returns_are_counted_before_parsing() -> None:
    # The email package ends a line at a CR alone as at CRLF, but the bound counted "--" only
    # after a LF: a message whose part boundaries follow bare CRs, within SMTP's 1,000-character
    # lines, had each of its 56,000 parts made an object before the walk refused it.
    line = b"\r--x\rContent-Type: text/plain\r\rx" * 28
    data = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + (line + b"\r\n") * 2000
    reading = read(data, VERP)
    assert reading.events == () and "lines that may start parts" in (reading.ignored or "")


@pytest.mark.parametrize(
    ("head", "part"),
    [
        ("Content-Type: multipart/mixed; {params}boundary=x", "Content-Type: text/plain"),
        ("Content-Type: multipart/mixed; boundary=x", "Content-Type: text/plain; {params}a=b"),
        # A byte that is no ASCII makes the email package hand the value over as a Header.
        ("Content-Type: multipart/mixed; boundary=x", "Content-Type: text/plain; {params}a=\xff"),
    ],
)
def test_a_content_type_of_many_parameters_is_read_in_linear_time(head: str, part: str) -> None:
    # The email package splits a header's parameters in quadratic time: one Content-Type of
    # 300,000 parameters, 1.5 MB (under max_message_bytes), held the receiver's one worker
    # thread for 13 s of CPU time, and each such message another 13.
    def seconds(params: int) -> float:
        filled = {"params": "a=b; " * params}
        data = (
            f"From: MAILER-DAEMON@mx.example.net\r\nTo: {VERP}\r\n{head.format(**filled)}\r\n"
            f"\r\n--x\r\n{part.format(**filled)}\r\n\r\n550 5.1.1 User unknown\r\n--x--\r\n"
        ).encode("utf-8", "surrogateescape")
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            read(data, VERP)
            best = min(best, time.process_time() - start)
        return best

    small, large = seconds(20_000), seconds(200_000)
    assert large < 30 * small + 0.05, (small, large)


@pytest.mark.parametrize(
    ("reply", "faults_the_address"),
    [
        ("mx.example.net:25 refused the address: 550 Requested action not taken", True),
        ("mx.example.net:25 refused the address: 550 5.1.1 no such user", True),
        ("mx.example.net:25 refused the message: 552 Message size exceeds fixed limit", False),
        ("mx.example.net:25 refused the message: 554 5.7.1 listed at a blocklist", False),
        ("mx.example.net:25 refused the address: 451 try again later", False),
        ("mx.example.net:25 refused the address", True),  # no code to say otherwise
    ],
)
def test_a_refusal_at_the_send_counts_on_the_reader_only_when_it_faults_the_address(
    reply: str, faults_the_address: bool
) -> None:
    # A refusal counted on a reader suppresses them after a few (digest.refusals): one that
    # faults the message or the sender would suppress every reader at that server.
    assert refusal_faults_the_address(reply) is faults_the_address


def test_a_complaint_about_a_copy_without_a_message_id_is_known_by_the_report() -> None:
    # Some feedback loops strip the returned message's Message-ID: the same report, sent
    # twice, is still one complaint.
    original = inbound_mail.returned_headers(list_unsubscribe=LIST_UNSUBSCRIBE).replace(
        f"Message-ID: {inbound_mail.ORIGINAL_ID}\r\n", ""
    )
    data = inbound_mail.arf(to="bounces@example.org", original=original)
    event = one(read(data, "bounces@example.org"))
    assert event.event_id == f"complaint:sha256 {hashlib.sha256(data).hexdigest()}:345"
