"""Who may use the desk, and the headers every answer carries (CSP, no framing, no sniffing).

One ASGI middleware (``DeskGuard``) wraps the whole app, so static files, error pages and the
401/403 answers it writes itself carry the same headers. Its rules, in order:

1. Every answer gets ``SECURITY_HEADERS`` (a handler's own value is kept).
2. ``/login`` and ``/logout`` are answered here: GET shows the form (or, with ``?token=``, signs
   in); POST checks the form's token; both set or clear the ``mw_token`` cookie.
3. When the desk has a token, every other request must carry it: ``Authorization: Bearer``,
   the ``mw_token`` cookie, or (feeds only: readers cannot send headers) ``?token=``. Otherwise
   401: JSON under /api and /feeds, the login page elsewhere. ``/static`` (the package's own
   CSS and scripts, nothing from the archive) is open so the login page has its style.
4. POST/PUT/PATCH/DELETE must echo the ``mw_csrf`` cookie in the form field ``csrf`` or the
   header ``X-CSRF-Token`` (double submit), else 403. ``csrf_token(request)`` is the value to
   echo; the cookie is set on the answer of any request that arrived without one.

Secrets are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request

from mediawatch.web.desk import Desk

logger = logging.getLogger(__name__)

TOKEN_COOKIE = "mw_token"  # noqa: S105 (the cookie's name, not a secret)
CSRF_COOKIE = "mw_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 1 << 20
"""A form bigger than this is refused (413) before it is parsed for its CSRF field."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def csrf_token(request: Request) -> str:
    """The value for the hidden ``<input name="csrf">`` of every POST form on this page."""
    state = request.scope.get("state") or {}
    return str(state.get(CSRF_COOKIE) or request.cookies.get(CSRF_COOKIE) or "")


def same_secret(given: str | None, expected: str | None) -> bool:
    """``given == expected`` in constant time; never true for a missing or empty value."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this desk, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def secure(app: FastAPI, desk: Desk) -> None:
    """Install the desk's access rules on ``app``."""
    app.add_middleware(DeskGuard, token=desk.token)


class DeskGuard:
    """The rules of this module's docstring, as pure ASGI middleware (it must see every
    answer, including those Starlette writes for errors)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cookies = request.cookies
        new_csrf = None if cookies.get(CSRF_COOKIE) else secrets.token_urlsafe(32)
        csrf = cookies.get(CSRF_COOKIE) or new_csrf or ""
        scope.setdefault("state", {})[CSRF_COOKIE] = csrf
        secure_cookie = scope.get("scheme") == "https"

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if new_csrf:
                    headers.append(_cookie(CSRF_COOKIE, new_csrf, secure_cookie))
                message["headers"] = headers
            await send(message)

        path: str = scope["path"]
        method: str = scope["method"]
        body = b""
        if method in UNSAFE_METHODS:
            body, complete = await _read_body(receive)
            if not complete:
                await _answer_error(send_secured, path, 413, "request body too large")
                return
            if not same_secret(_echoed_csrf(request, body), cookies.get(CSRF_COOKIE)):
                logger.info("desk: %s %s refused: missing or wrong CSRF token", method, path)
                await _answer_error(send_secured, path, 403, "missing or wrong CSRF token")
                return
            receive = _replay(body, receive)
        if path in ("/login", "/logout"):
            await self._sign(request, body, csrf, secure_cookie, send_secured)
            return
        if self._refused(request):
            if _is_machine_path(path):
                await _answer_error(send_secured, path, 401, "authentication required")
            else:
                target = path + (f"?{request.url.query}" if request.url.query else "")
                await _send_html(send_secured, 401, _login_page(csrf, target, ""))
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_secured(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            # Answered here, not by Starlette's outermost handler, so a 500 has the headers too.
            logger.exception("desk: %s %s failed", method, path)
            if not started:
                await _answer_error(send_secured, "/api/", 500, "internal error")

    def _refused(self, request: Request) -> bool:
        """Whether the desk has a token and ``request`` does not carry it (static files free)."""
        if self.token is None or request.url.path.startswith("/static/"):
            return False
        return not same_secret(_presented_token(request), self.token)

    async def _sign(
        self, request: Request, body: bytes, csrf: str, secure_cookie: bool, send: Send
    ) -> None:
        """``/login`` (GET form, GET ``?token=``, POST form) and ``/logout`` (POST)."""
        method = request.method
        if request.url.path == "/logout":
            if method != "POST":
                await _answer_error(send, "/logout", 405, "sign out with POST")
                return
            headers = [(b"location", b"/login"), _cookie(TOKEN_COOKIE, "", secure_cookie, 0)]
            await _send(send, 303, b"", headers)
            return
        if method == "POST":
            form = _form(body)
            given, target = form.get("token"), safe_next(form.get("next"))
        elif method in ("GET", "HEAD"):
            given, target = (
                request.query_params.get("token"),
                safe_next(request.query_params.get("next")),
            )
        else:
            await _answer_error(send, "/login", 405, "use GET or POST")
            return
        if self.token is None:
            await _send(send, 303, b"", [(b"location", target.encode())])
            return
        if given is None:
            await _send_html(send, 200, _login_page(csrf, target, ""))
            return
        if not same_secret(given.strip(), self.token):
            logger.info("desk: sign-in refused (wrong token)")
            await _send_html(send, 401, _login_page(csrf, target, "That token is not right."))
            return
        cookie = _cookie(TOKEN_COOKIE, self.token, secure_cookie)
        if method == "POST":
            await _send(send, 303, b"", [(b"location", target.encode()), cookie])
            return
        # A link from elsewhere (mail, chat): a SameSite=Strict cookie set at the end of a
        # cross-site navigation is not sent on a redirect it makes, so continue from this page.
        await _send_html(send, 200, _signed_in_page(target), [cookie])


def _is_machine_path(path: str) -> bool:
    """Paths read by programs (JSON, Atom), which get JSON errors rather than pages."""
    return path == "/api" or path.startswith(("/api/", "/feeds/")) or path == "/feeds"


def _presented_token(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if request.cookies.get(TOKEN_COOKIE):
        return request.cookies[TOKEN_COOKIE]
    if request.url.path.startswith("/feeds/"):
        return request.query_params.get("token")
    return None


def _echoed_csrf(request: Request, body: bytes) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return _form(body).get(CSRF_FIELD)
    if content_type == "multipart/form-data":
        return _multipart_field(request, body, CSRF_FIELD)
    return None


def _form(body: bytes) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each)."""
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in parsed.items()}


def _multipart_field(request: Request, body: bytes, name: str) -> str | None:
    """A text field of a multipart form, found without a multipart library: the part whose
    ``Content-Disposition`` carries ``name="<name>"``."""
    boundary = request.headers.get("content-type", "").partition("boundary=")[2]
    boundary = boundary.split(";")[0].strip().strip('"')
    if not boundary:
        return None
    wanted = f'name="{name}"'.encode()
    for part in body.split(b"--" + boundary.encode()):
        head, _, value = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if not line.lower().startswith(b"content-disposition:"):
                continue
            if wanted in [param.strip() for param in line.split(b";")[1:]]:
                return value.removesuffix(b"\r\n").decode("utf-8", "replace")
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and whether it fit in ``MAX_FORM_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body already read, then waits as the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _cookie(
    name: str, value: str, secure_cookie: bool, max_age: int | None = None
) -> tuple[bytes, bytes]:
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    if secure_cookie:
        morsel["secure"] = True
    if max_age is not None:
        morsel["max-age"] = max_age
    return b"set-cookie", morsel.OutputString().encode("latin-1")


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [
        *headers,
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_html(
    send: Send, status: int, page: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    content_type = (b"content-type", b"text/html; charset=utf-8")
    await _send(send, status, page.encode(), [content_type, *(headers or [])])


async def _answer_error(send: Send, path: str, status: int, message: str) -> None:
    """A refusal: JSON ``{"error": ...}`` for programs, a short page for people."""
    headers: list[tuple[bytes, bytes]] = []
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="mediawatch"'))
    if _is_machine_path(path) or status != 401:
        body = json.dumps({"error": message}).encode()
        await _send(send, status, body, [(b"content-type", b"application/json"), *headers])
        return
    await _send_html(send, status, _page("mediawatch", f"<p>{html.escape(message)}</p>"), headers)


def _page(title: str, content: str, head: str = "") -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{head}'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/static/desk.css">'
        f'</head><body><main class="login">{content}</main></body></html>\n'
    )


def _login_page(csrf: str, target: str, problem: str) -> str:
    shown = f'<p class="error" role="alert">{html.escape(problem)}</p>' if problem else ""
    return _page(
        "Sign in · mediawatch",
        "<h1>Sign in</h1>"
        f"{shown}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
        f'<input type="hidden" name="next" value="{html.escape(target)}">'
        '<label for="token">Access token</label> '
        '<input id="token" name="token" type="password" autocomplete="current-password" required '
        "autofocus> "
        '<button type="submit">Sign in</button></form>',
    )


def _signed_in_page(target: str) -> str:
    link = html.escape(quote(target, safe="/?&=%#:;,+-_.~"))
    return _page(
        "Signed in · mediawatch",
        f'<p>Signed in. <a href="{link}">Continue</a></p>',
        f'<meta http-equiv="refresh" content="0;url={link}">',
    )
