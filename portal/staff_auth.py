"""Staff authentication: login with rate limiting, session cookies (Secure, HttpOnly, SameSite=Strict),
CSRF tokens on every state-changing request, and API keys (Bearer key_id:secret) for machine clients."""
from __future__ import annotations

from aiohttp import web

from machihub.errors import Forbidden, HubError, Unauthorized
from portal.pages import gettext_for, render
from portal.web import HUB, PRINCIPAL, SESSION, Handler, run

COOKIE = "mh_session"
OPEN_PATHS = ("/login", "/static/", "/feeds/push/")  # push endpoints check their own HMAC API key
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _client(request: web.Request) -> str:
    return request.remote or "-"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    hub = request.app[HUB]
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and ":" in auth:
        key_id, secret = auth[7:].split(":", 1)
        request[PRINCIPAL] = await run(hub.users.api_bearer, key_id.strip(), secret.strip(), "features")
        return await handler(request)
    token = request.cookies.get(COOKIE)
    session = await run(hub.users.session, token) if token else None
    if session is None:
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            raise web.HTTPSeeOther(f"/login?next={request.rel_url}")
        raise Unauthorized("log in first")
    if request.method in UNSAFE:
        sent = request.headers.get("X-CSRF-Token")
        if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sent = (await request.post()).get("csrf_token")
        if sent != session.csrf_token:
            raise Forbidden("the form's security token is missing or expired; reload the page and try again",
                            key="csrf")
    request[SESSION] = session
    request[PRINCIPAL] = session.user.principal()
    return await handler(request)


async def login_form(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    return render(request, "staff/login.html", title=_("Staff login"), next=request.query.get("next", "/"), error=None)


async def login(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    _ = gettext_for(request)
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    nxt = str(form.get("next") or "/")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"  # never redirect off-site after login
    try:
        session = await run(hub.users.login, username, password, _client(request))
    except HubError as exc:
        return render(request, "staff/login.html", title=_("Staff login"), next=nxt, error=exc.message,
                      status=exc.status)
    resp = web.HTTPSeeOther(nxt)
    resp.set_cookie(COOKIE, session.token, httponly=True, secure=hub.settings.cookie_secure, samesite="Strict",
                    path="/", max_age=10 * 3600)
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    if token:
        await run(request.app[HUB].users.logout, token)
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(COOKIE, path="/")
    raise resp
