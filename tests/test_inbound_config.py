"""[bounces] and [inbound]: defaults, refusals naming the key, secrets only from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from digest.config import settings_from_mapping
from digest.errors import ConfigError
from digest.inbound.mailboxes import Mailboxes
from digest.inbound.providers import webhooks_for
from digest.services import build_services
from tests.test_lists import raw_config


def load(tmp_path: Path, environ: dict[str, str] | None = None, **tables: Any) -> Any:
    raw = raw_config(tmp_path, "http://127.0.0.1:9")
    raw.update(tables)
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ=environ or {})


def test_by_default_no_return_path_and_no_receiver(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert not settings.bounces.enabled and not settings.inbound.enabled
    assert settings.bounce_domain == "example.org"  # the sender's: desk@example.org
    mailboxes = Mailboxes.from_settings(settings)
    assert mailboxes.accepts("bounces+1-2-x@example.org") and mailboxes.accepts(
        "<Unsubscribe@Example.org>"
    )
    assert not mailboxes.accepts("desk@example.org")
    assert not mailboxes.accepts("bounces@elsewhere.example")
    assert not mailboxes.accepts("bouncesx@example.org")


@pytest.mark.parametrize(
    ("tables", "key", "why"),
    [
        ({"bounces": {"local_part": "bounce+s"}}, "bounces.local_part", "no '+'"),
        ({"bounces": {"local_part": "b" * 21}}, "bounces.local_part", "at most 20"),
        ({"bounces": {"domain": "not a domain"}}, "bounces.domain", "not a domain name"),
        ({"bounces": {"soft_limit": 0}}, "bounces.soft_limit", "greater than or equal to 1"),
        ({"bounces": {"soft_window_days": 0}}, "bounces.soft_window_days", "greater than 0"),
        ({"inbound": {"port": 70000}}, "inbound.port", "less than or equal to 65535"),
        (
            {"inbound": {"ses_topic_arns": ["my-topic"]}},
            "inbound.ses_topic_arns[0]",
            "SNS topic ARN",
        ),
        (
            {"inbound": {"signing_key": "key-1"}},
            "inbound.signing_key",
            "DIGEST_MAILGUN_SIGNING_KEY",
        ),
        ({"inbound": {"enable": True}}, "inbound.enable", "unknown key"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(
    tmp_path: Path, tables: dict[str, Any], key: str, why: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, **tables)
    assert any(k == key and why in reason for k, reason in refused.value.problems), (
        refused.value.problems
    )


def test_the_mailgun_key_comes_from_the_environment(tmp_path: Path) -> None:
    environ = {"DIGEST_MAILGUN_SIGNING_KEY": "key-abc", "DIGEST_SECRET_KEY": "s" * 20}
    settings = load(
        tmp_path, environ, inbound={"ses_topic_arns": ["arn:aws:sns:eu-west-1:123456789012:t"]}
    )
    services = build_services(settings)
    try:
        webhooks = webhooks_for(services)
        assert webhooks.mailgun is not None and webhooks.ses is not None
    finally:
        services.close()
