"""Bounces, complaints and mailto unsubscribes coming back in (issue #11, point 7).

    mail to bounces+TOKEN@domain or unsubscribe@domain ─► server (aiosmtpd, SMTP or LMTP)
        ─► read.read_inbound (pure: bytes ─► Reading of InboundEvents, or why ignored)
    Amazon SES through SNS, Mailgun ─► webhooks (signature verified) ─► InboundEvents
        ─► take.take_events: once per event id, soft bounces counted
        ─► apply: unsubscribe from a list, or suppress an address for every list

A reader is named only by what we signed: the return path's delivery token (VERP, made by
digest.mail.personalize), an unsubscribe token, or a provider's verified signature.
"""
