"""Who may use the desk: the token (header, cookie, ``?token=`` for feeds), the login form,
the CSRF double submit, the headers on every answer, and no desk beyond loopback without a
token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.web import TOKEN, DeskArchive, RunningDesk

from mediawatch.web.security import SECURITY_HEADERS

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def cookies_of(reply) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Cookie name -> the whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in reply.headers.get_all("set-cookie") or []}


def csrf_pair(desk: RunningDesk) -> tuple[str, dict[str, str]]:
    """A CSRF value and the Cookie header that carries it, as a browser would hold them."""
    line = cookies_of(desk.get("/login"))["mw_csrf"]
    value = line.split("=", 1)[1].split(";")[0]
    return value, {"Cookie": f"mw_csrf={value}"}


def test_no_or_wrong_token_is_refused(guarded_desk: RunningDesk) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "mw_token=wrong"},
                    {"Authorization": f"Basic {TOKEN}"}):  # fmt: skip
        reply = guarded_desk.get("/api/v1/clusters", headers=headers)
        assert reply.status == 401, headers
        assert reply.json() == {"error": "authentication required"}
        assert reply.headers["www-authenticate"].startswith("Bearer")
    page = guarded_desk.get("/", headers={"Accept": "text/html"})
    assert page.status == 401
    assert page.headers["content-type"].startswith("text/html")
    assert 'action="/login"' in page.text and 'name="csrf"' in page.text
    assert guarded_desk.get("/api/v1/openapi.json").status == 401
    # ?token= is for feed readers only.
    assert guarded_desk.get("/api/v1/clusters", params={"token": TOKEN}).status == 401


def test_the_right_token_opens_the_desk(guarded_desk: RunningDesk) -> None:
    assert guarded_desk.get("/api/v1/clusters", headers=BEARER).status == 200
    assert (
        guarded_desk.get("/api/v1/sources", headers={"Cookie": f"mw_token={TOKEN}"}).status == 200
    )
    feed = guarded_desk.get("/feeds/alerts.atom", params={"token": TOKEN})
    assert feed.status != 401
    assert guarded_desk.get("/feeds/alerts.atom").status == 401


def test_the_login_form_sets_a_strict_http_only_cookie(guarded_desk: RunningDesk) -> None:
    csrf, cookie = csrf_pair(guarded_desk)
    wrong = guarded_desk.post("/login", headers=cookie,
                              form={"csrf": csrf, "token": "nope", "next": "/sources"})  # fmt: skip
    assert wrong.status == 401 and "not right" in wrong.text
    assert "mw_token" not in cookies_of(wrong)
    right = guarded_desk.post("/login", headers=cookie,
                              form={"csrf": csrf, "token": TOKEN, "next": "/sources"})  # fmt: skip
    assert right.status == 303 and right.headers["location"] == "/sources"
    line = cookies_of(right)["mw_token"]
    assert f"mw_token={TOKEN}" in line
    assert "HttpOnly" in line and "SameSite=Strict" in line and "Path=/" in line
    elsewhere = {"csrf": csrf, "token": TOKEN, "next": "//evil.example/"}
    away = guarded_desk.post("/login", headers=cookie, form=elsewhere)
    assert away.headers["location"] == "/"


def test_a_login_link_signs_in(guarded_desk: RunningDesk) -> None:
    reply = guarded_desk.get("/login", params={"token": TOKEN, "next": "/alerts"})
    assert reply.status == 200
    assert "mw_token" in cookies_of(reply)
    assert 'href="/alerts"' in reply.text
    assert guarded_desk.get("/login", params={"token": "nope"}).status == 401


def test_login_needs_csrf_too(guarded_desk: RunningDesk) -> None:
    reply = guarded_desk.post("/login", form={"token": TOKEN})
    assert reply.status == 403
    assert "mw_token" not in cookies_of(reply)


def test_a_post_without_the_csrf_echo_is_refused(running_desk: RunningDesk) -> None:
    csrf, cookie = csrf_pair(running_desk)
    assert running_desk.post("/api/v1/clusters").status == 403
    assert running_desk.post("/api/v1/clusters", headers=cookie).status == 403
    assert (
        running_desk.post("/api/v1/clusters", headers=cookie, form={"csrf": "other"}).status == 403
    )
    assert running_desk.post("/api/v1/clusters", form={"csrf": csrf}).status == 403  # no cookie
    refused = running_desk.request("DELETE", "/api/v1/clusters", headers={"X-CSRF-Token": csrf})
    assert refused.status == 403 and refused.json() == {"error": "missing or wrong CSRF token"}
    # With the echo, the request gets past the check (and meets the router: GET only).
    assert running_desk.post("/api/v1/clusters", headers=cookie, form={"csrf": csrf}).status == 405
    echoed = {**cookie, "X-CSRF-Token": csrf}
    assert running_desk.request("PUT", "/api/v1/clusters", headers=echoed).status == 405
    boundary = "XyZ"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    reply = running_desk.post("/api/v1/clusters", body=multipart, headers={
        **cookie, "Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    assert reply.status == 405


def test_every_answer_carries_the_headers(guarded_desk: RunningDesk) -> None:
    answers = [
        guarded_desk.get("/api/v1/clusters", headers=BEARER),
        guarded_desk.get("/api/v1/articles/999999", headers=BEARER),
        guarded_desk.get("/api/v1/search", params={"q": "((("}, headers=BEARER),
        guarded_desk.get("/", headers=BEARER),
        guarded_desk.get("/no-such-page", headers=BEARER),
        guarded_desk.get("/static/desk.css"),
        guarded_desk.get("/static/missing.js"),
        guarded_desk.get("/login"),
        guarded_desk.get("/api/v1/clusters"),
        guarded_desk.post("/api/v1/clusters", headers=BEARER),
    ]
    for reply in answers:
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers[name] == value, (reply.status, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_the_login_page_has_no_inline_script_or_style(guarded_desk: RunningDesk) -> None:
    page = guarded_desk.get("/login").text
    assert not re.search(r"<script|\sstyle=|<style|\son\w+=", page, re.IGNORECASE)


def test_the_csrf_cookie_is_set_once(running_desk: RunningDesk) -> None:
    csrf, cookie = csrf_pair(running_desk)
    assert len(csrf) >= 32
    again = running_desk.get("/api/v1/clusters", headers=cookie)
    assert "mw_csrf" not in cookies_of(again)
    assert "SameSite=Strict" in cookies_of(running_desk.get("/api/v1/clusters"))["mw_csrf"]


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "192.0.2.7:8080", "[::]:8080"])
def test_no_desk_beyond_loopback_without_a_token(
    desk_archive: DeskArchive, cli, listen: str
) -> None:  # type: ignore[no-untyped-def]
    result = cli("--config", str(desk_archive.config_path), "web", "--listen", listen)
    assert result.code == 2, result
    assert "token_env" in result.err


def test_no_desk_when_the_token_variable_is_empty(
    desk_archive: DeskArchive, cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MW_DESK_TOKEN_UNSET", raising=False)
    config = tmp_path / "guarded.toml"
    config.write_text(desk_archive.config_path.read_text(encoding="utf-8")
                      + '\n[web]\nlisten = "0.0.0.0:8099"\ntoken_env = "MW_DESK_TOKEN_UNSET"\n',
                      encoding="utf-8")  # fmt: skip
    result = cli("--config", str(config), "web")
    assert result.code != 0, result
    assert "MW_DESK_TOKEN_UNSET" in result.err
