"""config.toml: parsed once into frozen models; every problem is one clear line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from clock.durations import format_duration, parse_duration
from config.load import load_config
from config.models import Config
from errors import ConfigError

MINIMAL = """
[storage]
url = "sqlite:///x.db"

[[sources]]
name = "Rudaw English"
url = "https://www.rudaw.net/english/rss"
every = "15m"

[[clusters]]
name = "Interior Ministry"
terms = ["Interior Ministry"]
context = ["Iraq"]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1.5h", timedelta(minutes=90)),
        (" 5m ", timedelta(minutes=5)),
        (45, timedelta(seconds=45)),
    ],
)
def test_durations_are_read_as_people_write_them(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "15", "-5m", "0s", "5 minutes", "", True])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_print_back_in_their_shortest_form() -> None:
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(hours=6)) == "6h"
    assert parse_duration(format_duration(timedelta(seconds=3725))) == timedelta(seconds=3725)


def test_a_minimal_config_loads_into_frozen_models(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL)
    config = load_config(path, environ={})
    assert config.storage.url == "sqlite:///x.db"
    assert config.sources[0].every == timedelta(minutes=15)
    assert config.crawl.allow_private_networks is False
    assert config.detection.bucket == timedelta(hours=1)
    with pytest.raises(ValidationError):
        config.crawl.allow_private_networks = True  # type: ignore[misc]


def test_config_path_comes_from_the_environment_and_the_db_url_can_be_overridden(
    tmp_path: Path,
) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text(MINIMAL)
    environ = {"MEDIAWATCH_CONFIG": str(path), "MEDIAWATCH_DB_URL": "postgresql://db/mw"}
    config = load_config(None, environ=environ)
    assert config.storage.url == "postgresql://db/mw"
    assert config.sources[0].name == "Rudaw English"


def test_the_shipped_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[1] / "config.toml", environ={})
    assert config.sources and config.clusters


def error_for(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message, "one line"
    return message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[storage]\nurl = "x"\n[crawl\n')
    assert "TOML syntax error" in message
    assert "line 3" in message


def test_unknown_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[crawl]\nallow_private_network = true\n")
    assert "[crawl] allow_private_network: unknown key" in message


def test_unknown_table_is_an_error(tmp_path: Path) -> None:
    assert "[crawler]" in error_for(tmp_path, "[crawler]\nx = 1\n")


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[crawl]\nallow_private_networks = "yes please"\n')
    assert "[crawl] allow_private_networks" in message
    assert "boolean" in message


def test_bad_duration_names_the_source(tmp_path: Path) -> None:
    text = '[[sources]]\nname = "A"\nurl = "https://a.example/rss"\n'
    text += '[[sources]]\nname = "B"\nurl = "https://b.example/rss"\nevery = "often"\n'
    message = error_for(tmp_path, text)
    assert '[sources] #2 "B" every' in message
    assert "invalid duration 'often'" in message


def test_a_source_url_must_be_http(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[[sources]]\nname = "A"\nurl = "file:///etc/passwd"\n')
    assert '"A" url' in message and "http" in message


def test_duplicate_cluster_names_are_refused(tmp_path: Path) -> None:
    text = '[[clusters]]\nname = "PMF"\nterms = ["PMF"]\n' * 2
    assert "duplicate clusters name(s): PMF" in error_for(tmp_path, text)


def test_empty_term_names_the_cluster(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[[clusters]]\nname = "Badr"\nterms = ["Badr", "  "]\n')
    assert '[clusters] #1 "Badr"' in message


def test_bounds_must_make_sense(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[crawl]\nmin_interval = "2h"\nmax_interval = "1h"\n')
    assert "min_interval must not exceed max_interval" in message


def test_secrets_are_named_not_stored(tmp_path: Path) -> None:
    text = (
        '[[alerts.channels]]\ntype = "email"\nfrom = "a@example.org"\nto = ["b@example.org"]\n'
        'password = "hunter2"\n'
    )
    message = error_for(tmp_path, text)
    assert "password: unknown key" in message
    assert "hunter2" not in message


def test_channels_are_told_apart_by_type(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[alerts.channels]]\ntype = "slack"\nwebhook_url_env = "HOOK"\n'
        '[[alerts.channels]]\ntype = "email"\nfrom = "a@example.org"\nto = ["b@example.org"]\n'
        "ssl = true\nsmtp_port = 465\n"
    )
    config = load_config(path, environ={})
    slack, email = config.alerts.channels
    assert slack.type == "slack" and slack.webhook_url_env == "HOOK"
    assert email.type == "email" and email.ssl and email.from_ == "a@example.org"


def test_unknown_channel_type_is_an_error(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[[alerts.channels]]\ntype = "pager"\n')
    assert "[alerts] channels #1" in message


def test_defaults_are_complete() -> None:
    config = Config()
    assert config.crawl.min_interval <= config.crawl.max_interval
    assert config.alerts.channels == ()


def test_a_query_naming_an_unknown_cluster_is_refused_at_load(tmp_path: Path) -> None:
    text = '[[clusters]]\nname = "Militias"\nquery = "@Nobody AND Iraq"\n'
    message = error_for(tmp_path, text)
    assert "Nobody" in message


def test_an_smtp_password_is_never_sent_without_tls(tmp_path: Path) -> None:
    channel = (
        '[[alerts.channels]]\ntype = "email"\nsmtp_host = "smtp.example.org"\n'
        'from = "a@example.org"\nto = ["b@example.org"]\npassword_env = "SMTP_PASSWORD"\n'
    )
    assert "starttls = true" in error_for(tmp_path, channel)
    path = tmp_path / "ok.toml"
    path.write_text(channel + "starttls = true\n")
    assert load_config(path, environ={}).alerts.channels[0].type == "email"
    local = channel.replace("smtp.example.org", "localhost")
    path.write_text(local)
    assert load_config(path, environ={}).alerts.channels[0].type == "email"


def test_a_redis_password_is_not_echoed_in_errors(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[cluster]\nredis_url = "http://:hunter2@cache:6379/0"\n')
    assert "not a Redis URL" in message and "hunter2" not in message


@pytest.mark.parametrize("section", ["distributed", "cluster"])
def test_distributed_mode_is_read_under_either_name_and_errors_name_the_one_written(
    tmp_path: Path, section: str
) -> None:
    redis = f'[{section}]\nredis_url = "redis://cache:6379/0"\n'
    path = tmp_path / "ok.toml"
    path.write_text('[storage]\nurl = "postgresql://db/mediawatch"\n' + redis)
    distributed = load_config(path, environ={}).distributed
    assert distributed is not None and distributed.redis_url == "redis://cache:6379/0"
    assert error_for(tmp_path, redis).endswith(
        f"[{section}] needs PostgreSQL storage: set [storage] url"
    )
    assert f"[{section}] key_prefix" in error_for(tmp_path, redis + 'key_prefix = "a b"\n')


def test_distributed_mode_under_both_names_is_refused(tmp_path: Path) -> None:
    both = '[distributed]\nredis_url = "redis://a"\n[cluster]\nredis_url = "redis://b"\n'
    assert "keep one" in error_for(tmp_path, both)


def test_the_watchlist_is_compiled_once_per_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL)
    config = load_config(path, environ={})
    assert config.watchlist() is config.watchlist()
    assert config.watchlist().names == ("Interior Ministry",)
    assert config.watchlist().match("The Interior Ministry of Iraq said")
    assert config == load_config(path, environ={})  # the compiled watch-list is not a field
    fewer = config.model_copy(update={"clusters": ()})
    assert fewer.watchlist().names == ()
