"""No configured secret reaches a log line, whichever library logged it; ``redact_url``
hides any password, however it is spelled."""

from __future__ import annotations

import io
import json
import logging
import os
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support.slack_hook import SlackHook, slack_hook_fixture  # noqa: F401

from config.load import parse_config
from logs.configure import SECRET_MASK, configure_logging, mask_secrets
from logs.secrets import redact_url

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "60"))

PASSWORD = "Pa@ss:w0rd/9%"
TOKEN = "T0k3nABCDEF123"
SMTP_PASSWORD = "smtp-Secret-42"

CONFIG = """
[storage]
url = "{{db}}"

[[alerts.channels]]
type = "apprise"
name = "hooks"
urls_env = "MW_TEST_APPRISE_URLS"

[[alerts.channels]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = 1
from = "mediawatch@example.org"
to = ["analyst@example.org"]
username = "mediawatch"
password_env = "MW_TEST_SMTP_PASSWORD"
timeout = "2s"
"""


@pytest.fixture(autouse=True)
def _restore_logging():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    mask_secrets(())


def _forms_of_secrets() -> list[str]:
    return [PASSWORD, quote(PASSWORD, safe=""), TOKEN, SMTP_PASSWORD]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_apprise_tokens_never_reach_the_debug_log(
    cli, write_config, slack_hook: SlackHook, monkeypatch, log_format: str
) -> None:
    url = f"json://hookuser:{quote(PASSWORD, safe='')}@127.0.0.1:{slack_hook.port}/apprise/{TOKEN}"
    monkeypatch.setenv("MW_TEST_APPRISE_URLS", url)
    monkeypatch.setenv("MW_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    path = write_config(CONFIG)
    result = cli(
        "--log-level", "DEBUG", "--log-format", log_format, "--config", str(path), "alerts", "test"
    )
    # The apprise notification really went out (to the token's path) ...
    assert "hooks: OK" in result.out, result
    assert [request.path for request in slack_hook.accepted] == [f"/apprise/{TOKEN}"]
    # ... apprise logged where it posted, at DEBUG, and the email failed ...
    assert "apprise: JSON POST URL" in result.err or "JSON POST URL" in result.err
    assert "email: FAILED" in result.out
    # ... and no spelling of any configured secret is in what anyone printed.
    for secret in _forms_of_secrets():
        assert secret not in result.err, secret
        assert secret not in result.out, secret
    assert "***" in result.err
    if log_format == "json":
        assert all(json.loads(line) for line in result.err.splitlines())


def test_a_traceback_holding_a_secret_is_masked() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    mask_secrets([TOKEN])
    try:
        raise RuntimeError(f"cannot POST https://hooks.example/{TOKEN}")
    except RuntimeError:
        logging.getLogger("some.library").exception("failed")
    assert "RuntimeError: cannot POST https://hooks.example/***" in stream.getvalue()
    assert TOKEN not in stream.getvalue()


def test_config_secrets_are_the_values_and_the_secret_parts_of_urls() -> None:
    environ = {
        "MW_TEST_APPRISE_URLS": f"discord://4174216298/{TOKEN}, json://host.example/api/hooks",
        "MW_TEST_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    config = parse_config(
        {
            "storage": {"url": "postgresql://mw:db-Pass%40word@db.example/mw"},
            "alerts": {
                "channels": [
                    {"type": "apprise", "urls_env": "MW_TEST_APPRISE_URLS"},
                    {
                        "type": "email",
                        "from": "a@example.org",
                        "to": ["b@example.org"],
                        "smtp_host": "localhost",
                        "password_env": "MW_TEST_SMTP_PASSWORD",
                    },
                ]
            },
            "cluster": {"redis_url": "redis://:redis-Secret9@redis.example:6379/0"},
        },
        environ=environ,
    )
    secrets = config.secrets(environ)
    assert {TOKEN, "4174216298", SMTP_PASSWORD, "db-Pass%40word", "redis-Secret9"} <= secrets
    # Plain words and host names stay readable in every log line.
    assert not {"api", "hooks", "host.example", "discord", "redis.example"} & secrets


# -- properties ----------------------------------------------------------------------------

passwords = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=4, max_size=30
)
users = st.from_regex(r"\A[a-z][a-z0-9_]{0,11}\Z")
hosts = st.sampled_from(["redis.example.org", "127.0.0.1", "db", "[::1]", "localhost"])


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    password=passwords,
    user=users,
    host=hosts,
    safe=st.sampled_from(["", "@:", "@:%", ":@/"]),
)
def test_redact_url_hides_any_password_and_keeps_the_rest(
    password: str, user: str, host: str, safe: str
) -> None:
    spelled = quote(password, safe=safe)
    tail = f"@{host}:6379/0?timeout=5"
    redacted = redact_url(f"redis://{user}:{spelled}{tail}")
    skeleton = f"redis://{user}:***{tail}"
    assume(password not in skeleton and spelled not in skeleton)
    assert password not in redacted
    assert spelled not in redacted
    assert redacted == skeleton


@settings(max_examples=EXAMPLES, deadline=None)
@given(password=passwords, before=st.text(max_size=20), after=st.text(max_size=20))
def test_the_log_mask_hides_a_secret_url_password_in_any_spelling(
    password: str, before: str, after: str
) -> None:
    assume("*" not in password)
    url = f"json://user:{quote(password, safe='')}@hooks.example/send"
    environ = {"URLS": url}
    config = parse_config(
        {"alerts": {"channels": [{"type": "apprise", "urls_env": "URLS"}]}}, environ=environ
    )
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream)
    mask_secrets(config.secrets(environ))
    log = logging.getLogger("apprise")
    log.debug("%s%s%s", before, url, after)
    log.debug("password %r", password)
    log.debug("%s", before + quote(password, safe="") + after)
    written = stream.getvalue()
    assert password not in written.replace(before, "").replace(after, "")
    assert quote(password, safe="") not in written
    assert "hooks.example" not in written or "***" in written
    assert SECRET_MASK.forms
