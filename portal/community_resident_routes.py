"""The resident's side of the community features on the public app, as plain HTML forms (no JavaScript needed):
"My community services" (/community/{tenant}/me: library card, hold-notice titles, new-arrival subjects,
groups, watch-over registrations), the group page with its join, post and reply forms, and the page where a
watched person confirms a guardian with the code the watch system (school, terminal) showed them.

A resident is known by the token of their safety-mail settings link (form or query field `t`, or the
mh_resident cookie), exactly as on /alerts/p/{token}; posts from other sites are refused by their Origin header,
as on the subscription forms. Every POST answers a browser (Accept: text/html) with a 303 back to the page and a
confirmation line, or with the page again naming the problem (nothing changed); API clients get JSON as before.
`add_resident_community_routes(app)` mounts it (called by `add_public_community_routes`)."""
from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from alerts.model import JST
from community.arrivals import CLASSES
from machihub.errors import Forbidden, HubError, Invalid, NotFound, Unauthorized
from portal.i18n import pick_language
from portal.pages import error_page, gettext_for, render
from portal.ratelimit import RateLimiter
from portal.web import HUB, dumps, run, wants_html

RESIDENT_COOKIE = "mh_resident"
CODE_GUESSES: web.AppKey[RateLimiter] = web.AppKey("community_code_guesses", RateLimiter)


@dataclass(frozen=True)
class Resident:
    sid: int
    tenant_code: str
    token: str


def _cm(request: web.Request) -> Any:
    return request.app[HUB].community  # type: ignore[attr-defined]


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=dumps)


def _same_origin(request: web.Request) -> None:
    """Browsers send Origin on form posts: refuse posts made from other sites' pages (as the mail-settings forms)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise Forbidden("this form can only be sent from this site")


def _token(request: web.Request, form: Any = None) -> str:
    return str((form or {}).get("t") or request.query.get("t") or request.cookies.get(RESIDENT_COOKIE) or "").strip()


async def _who(request: web.Request, form: Any = None, *, required: bool = True) -> Resident | None:
    """The resident behind the settings-link token (NotFound for a bad or old link)."""
    token = _token(request, form)
    if not token:
        if required:
            raise Unauthorized("open this page from the link in your safety mail settings")
        return None
    sub = await run(_cm(request).alerts.subscribers.view, token)
    return Resident(int(sub.id), str(sub.tenant_code), token)


def _own_tenant(request: web.Request, who: Resident) -> str:
    tenant = request.match_info["tenant"]
    if tenant != who.tenant_code:
        raise Forbidden("your mail settings belong to another municipality")
    return tenant


def _code(value: Any) -> str:
    """A code as typed on a phone: full-width digits and letters, spaces and hyphens are fine."""
    return "".join(c for c in unicodedata.normalize("NFKC", str(value or "")) if c not in " -\u3000").strip()


def me_url(who: Resident, done: str = "") -> str:
    return f"/community/{who.tenant_code}/me?t={quote(who.token, safe='')}" + (f"&done={done}" if done else "")


def group_url(gid: int, who: Resident | None, done: str = "") -> str:
    query = [f"t={quote(who.token, safe='')}"] if who else []
    query += [f"done={done}"] if done else []
    return f"/community/groups/{gid}" + ("?" + "&".join(query) if query else "")


def _private(resp: web.Response) -> web.Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return resp


def _done(request: web.Request) -> str:
    _ = gettext_for(request)
    return {"linked": _("Your library card is linked. Hold notices will come with your safety mail."),
            "titles": _("Your choice about book titles is saved."),
            "subjects": _("Your new-arrival subjects are saved."),
            "nosubjects": _("Saved: you will not get the new-arrivals mail."),
            "joined": _("You joined the group."),
            "requested": _("Your request to join was sent. The group's admin must approve it."),
            "posted": _("Your notice is published and sent to the members."),
            "held": _("Your notice was sent to the town hall for checking. It is published after that."),
            "replied": _("Your reply is posted."),
            "confirmed": _("Thank you. The guardian is confirmed and will get watch-over notices."),
            "registered": _("You are registered. Notices start after the person or the school confirms you."),
            }.get(request.query.get("done", ""), "")


def ndc_classes(request: web.Request) -> list[tuple[str, str, str]]:
    """(class, Japanese name, name in the reader's language) for the ten NDC main classes."""
    _ = gettext_for(request)
    names = {"0": _("General works"), "1": _("Philosophy and religion"), "2": _("History and geography"),
             "3": _("Social sciences"), "4": _("Natural sciences and medicine"), "5": _("Technology and engineering"),
             "6": _("Industry and trade"), "7": _("Arts and sports"), "8": _("Languages"), "9": _("Literature")}
    return [(code, ja, names[code]) for code, ja in CLASSES.items()]


def local_time(iso: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as Japan time, for the pages."""
    try:
        return datetime.fromisoformat(iso).astimezone(JST).strftime(fmt)
    except (TypeError, ValueError):
        return str(iso or "")[:16]


def _tenant_name(request: web.Request, tenant: Any) -> str:
    return tenant.name if pick_language(request).startswith("ja") else (tenant.name_en or tenant.name)


# -- "My community services" ---------------------------------------------------------------------------------
async def me_page(request: web.Request, who: Resident | None = None, *, error: str = "", status: int = 200,
                  form: Any = None) -> web.Response:
    if who is None:
        who = await _who(request)
        assert who is not None
        if request.match_info["tenant"] != who.tenant_code:  # an old bookmark of another town: go to their own
            raise web.HTTPSeeOther(me_url(who))
    cm, tc, sid = _cm(request), who.tenant_code, who.sid
    _ = gettext_for(request)
    tenant = await run(request.app[HUB].tenants.get, tc)
    mine = await run(cm.groups.of_resident, sid, tc)
    member_of = {g["id"] for g in mine}
    groups = [g for g in await run(cm.groups.list, tc) if not g.private and g.id not in member_of]
    resp = render(request, "community/me.html", status=status, title=_("My community services"), tenant=tenant,
                  tenant_name=_tenant_name(request, tenant), token=who.token, me_url=me_url(who),
                  library=await run(cm.library.link_state, sid, tc), subjects=set(await run(cm.arrivals.subjects, sid, tc)),
                  classes=ndc_classes(request), mine=mine, open_groups=groups, watch=await run(cm.watch.mine, sid, tc),
                  error=error, done=_done(request), form=form or {}, group_url=group_url, who=who,
                  local_time=local_time)
    return _private(resp)


Work = Callable[[Resident, Any], Awaitable[Any]]


async def _resident_action(request: web.Request, work: Work, explain: dict[type, str], *,
                           tenant_scoped: bool = True, again: Callable[..., Awaitable[web.Response]] | None = None
                           ) -> tuple[Resident, Any] | web.Response:
    """Check origin and resident, then run the work. → (resident, result), or the page to answer a browser with
    (the error named, nothing changed). API clients get the domain error as JSON (the middleware)."""
    html = wants_html(request)
    try:
        _same_origin(request)
        form = await request.post()
        who = await _who(request, form)
        assert who is not None
        if tenant_scoped:
            _own_tenant(request, who)
    except HubError as exc:
        if html:
            return error_page(request, exc)
        raise
    try:
        return who, await work(who, form)
    except HubError as exc:
        if not html:
            raise
        message = explain.get(type(exc), exc.message)
        return await (again or me_page)(request, who, error=message, status=exc.status, form=form)


def _messages(request: web.Request) -> dict[str, str]:
    _ = gettext_for(request)
    return {"code": _("This library code is unknown or has expired. Ask the library for a new one."),
            "code_empty": _("Type the 8-digit code the library gave you."),
            "subjects": _("Choose subjects from the list (NDC classes 0 to 9)."),
            "link_first": _("Link your library card first."),
            "invite": _("This invitation code is not valid. Check it with the group's organiser."),
            "invite_empty": _("Type the invitation code you were given."),
            "post": _("A notice needs a title and a text."),
            "admins": _("Only the group's admins can post notices."),
            "reply": _("The reply is empty."),
            "members": _("Only members can reply in this group."),
            "no_post": _("This post is not in this group any more."),
            "person": _("Give the ID of the person you want to watch over."),
            "watch_code": _("This confirmation code is unknown or was used already."),
            "watch_self": _("A guardian cannot confirm their own registration. The person or the school confirms it.")}


def _guess_limit(request: web.Request) -> None:
    """One-time codes (library card, invitation, watch-over) are short: bound the guesses per client address."""
    request.app[CODE_GUESSES].check(request.remote or "-")


async def library_link(request: web.Request) -> web.StreamResponse:
    _guess_limit(request)
    m = _messages(request)

    async def work(who: Resident, form: Any) -> None:
        code = _code(form.get("code"))
        if not code:
            raise Invalid("give the code from the library")
        await run(_cm(request).library.link, who.sid, who.tenant_code, code, show_titles=bool(form.get("show_titles")))

    out = await _resident_action(request, work, {NotFound: m["code"], Invalid: m["code_empty"]})
    if isinstance(out, web.Response):
        return out
    if wants_html(request):
        raise web.HTTPSeeOther(me_url(out[0], "linked"))
    return _json({"linked": True})


async def library_titles(request: web.Request) -> web.StreamResponse:
    """A linked patron opts in to (or out of) book titles in hold notices."""
    m = _messages(request)

    async def work(who: Resident, form: Any) -> bool:
        if not (await run(_cm(request).library.link_state, who.sid, who.tenant_code))["cards"]:
            raise NotFound("link your library card first (ask the library for a code)")
        show = bool(form.get("show_titles"))
        await run(_cm(request).library.set_show_titles, who.sid, show)
        return show

    out = await _resident_action(request, work, {NotFound: m["link_first"]})
    if isinstance(out, web.Response):
        return out
    if wants_html(request):
        raise web.HTTPSeeOther(me_url(out[0], "titles"))
    return _json({"show_titles": out[1]})


async def arrival_subjects(request: web.Request) -> web.StreamResponse:
    """A linked patron chooses the NDC classes of the weekly new-arrivals mail (none = no mail)."""
    m = _messages(request)

    async def work(who: Resident, form: Any) -> list[str]:
        return list(await run(_cm(request).arrivals.set_subjects, who.sid, who.tenant_code,
                              [str(v) for v in form.getall("subject", [])]))

    out = await _resident_action(request, work, {Invalid: m["subjects"], NotFound: m["link_first"]})
    if isinstance(out, web.Response):
        return out
    if wants_html(request):
        raise web.HTTPSeeOther(me_url(out[0], "subjects" if out[1] else "nosubjects"))
    return _json({"subjects": out[1]})


# -- groups ----------------------------------------------------------------------------------------------------
async def join_by_code(request: web.Request) -> web.StreamResponse:
    """Join with only an invitation code (it names the group, private ones too) from "My community services"."""
    _guess_limit(request)
    m = _messages(request)

    async def work(who: Resident, form: Any) -> tuple[int, str]:
        code = _code(form.get("code"))
        if not code:
            raise Invalid("give the invitation code")
        gid = await run(_cm(request).groups.find_by_code, who.tenant_code, code)
        return gid, str(await run(_cm(request).groups.join, who.sid, gid, code))

    out = await _resident_action(request, work, {Forbidden: m["invite"], Invalid: m["invite_empty"]})
    if isinstance(out, web.Response):
        return out
    who, (gid, state) = out
    if wants_html(request):
        raise web.HTTPSeeOther(group_url(gid, who, "joined") if state == "active" else me_url(who, "requested"))
    return _json({"group": gid, "state": state})


async def group_page(request: web.Request, who: Resident | None = None, *, error: str = "", status: int = 200,
                     form: Any = None) -> web.Response:
    if who is None:
        who = await _who(request, required=False)
    gid = int(request.match_info["gid"])
    page = await run(_cm(request).groups.page, gid, who.sid if who else None)
    if not wants_html(request) and request.query.get("f") == "json":
        return _json({"group": page["group"].__dict__, "role": page["role"], "posts": page["posts"]})
    tenant = await run(request.app[HUB].tenants.get, page["group"].tenant_code)
    resp = render(request, "community/group.html", status=status, title=page["group"].name, page=page,
                  token=who.token if who else "", me_url=me_url(who) if who else "", tenant=tenant,
                  tenant_name=_tenant_name(request, tenant), error=error, done=_done(request), form=form or {},
                  local_time=local_time)
    return _private(resp) if who else resp


async def _group_again(request: web.Request, who: Resident, **kw: Any) -> web.Response:
    try:
        return await group_page(request, who, **kw)
    except HubError as exc:  # e.g. a private group the resident may not read: the plain error page
        return error_page(request, exc)


async def group_join(request: web.Request) -> web.StreamResponse:
    _guess_limit(request)
    m = _messages(request)

    async def work(who: Resident, form: Any) -> str:
        return str(await run(_cm(request).groups.join, who.sid, int(request.match_info["gid"]), _code(form.get("code"))))

    out = await _resident_action(request, work, {Forbidden: m["invite"]}, tenant_scoped=False, again=_group_again)
    if isinstance(out, web.Response):
        return out
    who, state = out
    if wants_html(request):
        gid = int(request.match_info["gid"])
        group = await run(_cm(request).groups.get, gid)
        if state != "active" and group.private:  # not readable yet: back to their own page
            raise web.HTTPSeeOther(me_url(who, "requested"))
        raise web.HTTPSeeOther(group_url(gid, who, "joined" if state == "active" else "requested"))
    return _json({"state": state})


async def group_post(request: web.Request) -> web.StreamResponse:
    m = _messages(request)
    gid = int(request.match_info["gid"])

    async def work(who: Resident, form: Any) -> int:
        return int(await run(_cm(request).groups.post, gid, str(form.get("title") or ""), str(form.get("body") or ""),
                             sid=who.sid))

    out = await _resident_action(request, work, {Invalid: m["post"], Forbidden: m["admins"]}, tenant_scoped=False,
                                 again=_group_again)
    if isinstance(out, web.Response):
        return out
    who, pid = out
    if wants_html(request):
        held = (await run(_cm(request).groups.get, gid)).moderated
        raise web.HTTPSeeOther(group_url(gid, who, "held" if held else "posted"))
    return _json({"id": pid}, status=201)


async def group_reply(request: web.Request) -> web.StreamResponse:
    m = _messages(request)
    gid = int(request.match_info["gid"])

    async def work(who: Resident, form: Any) -> int:
        try:
            parent = int(str(form.get("parent") or "0"))
        except ValueError:
            parent = -1
        if not 0 <= parent < 2**63:  # not a key the stores can hold
            raise NotFound("no such post in this group")
        return int(await run(_cm(request).groups.reply, who.sid, gid, parent, str(form.get("body") or "")))

    out = await _resident_action(request, work, {Invalid: m["reply"], Forbidden: m["members"], NotFound: m["no_post"]},
                                 tenant_scoped=False, again=_group_again)
    if isinstance(out, web.Response):
        return out
    if wants_html(request):
        raise web.HTTPSeeOther(group_url(gid, out[0], "replied"))
    return _json({"id": out[1]}, status=201)


# -- watch-over ------------------------------------------------------------------------------------------------
async def watch_register(request: web.Request) -> web.StreamResponse:
    m = _messages(request)

    async def work(who: Resident, form: Any) -> int:
        return int(await run(_cm(request).watch.register, who.sid, who.tenant_code, str(form.get("person_id") or ""),
                             str(form.get("label") or "").strip()))

    out = await _resident_action(request, work, {Invalid: m["person"]})
    if isinstance(out, web.Response):
        return out
    who, gid = out
    if wants_html(request):  # no code for the guardian: the person or the school confirms
        raise web.HTTPSeeOther(me_url(who, "registered") + "#watch")
    return _json({"guardian": gid}, status=201)


async def watch_confirm_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    _ = gettext_for(request)
    return render(request, "community/watch_confirm.html", status=status, title=_("Confirm a watch-over guardian"),
                  error=error, done=_done(request))


async def _sid_or_none(request: web.Request, form: Any) -> int | None:
    """The resident whose settings link came with the request, if any (a stale link counts as none)."""
    try:
        who = await _who(request, form, required=False)
    except HubError:
        return None
    return who.sid if who else None


async def watch_confirm(request: web.Request) -> web.StreamResponse:
    """The watched person (or their family) confirms a guardian with the code the watch system showed them; a
    request carrying the registering guardian's own settings link is refused."""
    _guess_limit(request)
    html = wants_html(request)
    try:
        _same_origin(request)
    except HubError as exc:
        if html:
            return error_page(request, exc)
        raise
    form = await request.post()
    try:
        code = _code(form.get("code"))
        if not code:
            raise NotFound("this confirmation code is unknown or used")
        await run(_cm(request).watch.confirm_by_person, code, await _sid_or_none(request, form))
    except HubError as exc:
        if html:
            m = _messages(request)
            return await watch_confirm_page(request, error=m["watch_self" if isinstance(exc, Forbidden) else
                                                             "watch_code"], status=exc.status)
        raise
    if html:
        raise web.HTTPSeeOther("/community/watch/confirm?done=confirmed")
    return _json({"confirmed": True})


def add_resident_community_routes(app: web.Application) -> None:
    app[CODE_GUESSES] = RateLimiter(20, 600)
    r = app.router
    r.add_get("/community/{tenant:\\d{5}}/me", me_page)
    r.add_post("/community/{tenant:\\d{5}}/library/link", library_link)
    r.add_post("/community/{tenant:\\d{5}}/library/titles", library_titles)
    r.add_post("/community/{tenant:\\d{5}}/library/arrivals", arrival_subjects)
    r.add_post("/community/{tenant:\\d{5}}/groups/join", join_by_code)
    r.add_get("/community/groups/{gid:\\d{1,18}}", group_page)
    r.add_post("/community/groups/{gid:\\d{1,18}}/join", group_join)
    r.add_post("/community/groups/{gid:\\d{1,18}}/posts", group_post)
    r.add_post("/community/groups/{gid:\\d{1,18}}/replies", group_reply)
    r.add_post("/community/{tenant:\\d{5}}/watch/register", watch_register)
    r.add_get("/community/watch/confirm", watch_confirm_page)
    r.add_post("/community/watch/confirm", watch_confirm)
