"""Community groups (自治会・町内会・学校・PTA): admins and members (residents, known by their alert
subscription), joining by invitation code or by admin approval, posts delivered through each member's
channels and shown on the group page, optional moderation, replies, private groups, groups tied to an area."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import shapely

from alerts.personal import queue_personal
from community.access import is_staff_of
from machihub.errors import Conflict, Forbidden, Invalid, NotFound
from machihub.principal import Principal

KINDS = ("jichikai", "school", "pta", "other")


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def new_code() -> str:
    return secrets.token_hex(4).upper()


@dataclass(frozen=True)
class Group:
    id: int
    tenant_code: str
    name: str
    kind: str
    private: bool
    moderated: bool
    join_mode: str
    unit_id: int | None


def _group(r: dict[str, Any]) -> Group:
    return Group(r["id"], r["tenant_code"], r["name"], r["kind"], bool(r["private"]), bool(r["moderated"]),
                 r["join_mode"], r["unit_id"])


class GroupStore:
    def __init__(self, alerts: Any) -> None:
        self.al = alerts
        self.db, self.clock, self.audit = alerts.db, alerts.clock, alerts.audit

    # -- groups -----------------------------------------------------------------------------------------
    @staticmethod
    def _staff(by: Principal, tenant_code: str) -> None:
        if not is_staff_of(by, tenant_code):
            raise Forbidden("only staff of this municipality can manage community groups")

    @staticmethod
    def _resident_of(tx: Any, sid: int | None, tenant_code: str) -> None:
        """Groups are a town's own: residents of another municipality may not join, post or reply."""
        if sid is None or tx.scalar("SELECT tenant_code FROM al_subscribers WHERE id = ?", (sid,)) != tenant_code:
            raise Forbidden("this group belongs to another municipality")

    def subscriber_by_email(self, tenant_code: str, email: str) -> int:
        """The active subscriber with this e-mail address (how staff name a group's first admin)."""
        address = email.strip().lower()
        if "@" not in address:
            raise Invalid("give the e-mail address the person subscribed with")
        with self.db.read() as tx:
            sid = tx.scalar("SELECT c.subscriber_id FROM al_contacts c JOIN al_subscribers s ON s.id = c.subscriber_id"
                            " WHERE c.tenant_code = ? AND c.kind = 'email' AND c.address_hash = ? AND s.status = 'active'",
                            (tenant_code, self.al.links.address_hash("email", address)))
        if not sid:
            raise NotFound("nobody with this e-mail address subscribes to this municipality's mail")
        return int(sid)

    def create(self, by: Principal, tenant_code: str, name: str, admin_sid: int, *, kind: str = "jichikai",
               private: bool = False, moderated: bool = False, join_mode: str = "code",
               area: tuple[str, str] | None = None) -> tuple[int, str | None]:
        """A group with its first admin (a subscriber). Returns (group id, invitation code or None)."""
        self._staff(by, tenant_code)
        if kind not in KINDS or join_mode not in ("code", "approval") or not name.strip():
            raise Invalid("a group needs a name, a kind (jichikai, school, pta, other) and a join mode (code, approval)")
        unit_id = self.al.areas.unit(tenant_code, *area).id if area else None
        code = new_code() if join_mode == "code" else None
        now = self.clock.iso()
        with self.db.transaction() as tx:
            if tx.scalar("SELECT tenant_code FROM al_subscribers WHERE id = ?", (admin_sid,)) != tenant_code:
                raise Invalid("the group's admin must subscribe to this municipality's mail")
            if tx.scalar("SELECT id FROM cm_groups WHERE tenant_code = ? AND name = ?", (tenant_code, name)):
                raise Conflict(f"a group named {name!r} exists already")
            gid = tx.insert("INSERT INTO cm_groups (tenant_code, name, kind, private, moderated, join_mode, invite_hash,"
                            " unit_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (tenant_code, name.strip(), kind, int(private), int(moderated), join_mode,
                             _code_hash(code) if code else None, unit_id, now))
            tx.execute("INSERT INTO cm_members (group_id, subscriber_id, role, state, created) VALUES (?, ?, 'admin',"
                       " 'active', ?)", (gid, admin_sid, now))
            self.audit.append(tx, by.actor, "community.group.create", f"group:{gid}", tenant=tenant_code,
                              after={"name": name, "kind": kind, "private": private})
        return gid, code

    def get(self, group_id: int) -> Group:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM cm_groups WHERE id = ?", (group_id,))
        if not row:
            raise NotFound(f"no community group {group_id}")
        return _group(row)

    def list(self, tenant_code: str) -> list[Group]:
        with self.db.read() as tx:
            return [_group(r) for r in tx.query("SELECT * FROM cm_groups WHERE tenant_code = ? ORDER BY name",
                                                (tenant_code,))]

    # -- members ----------------------------------------------------------------------------------------
    def role(self, tx: Any, group_id: int, sid: int | None) -> str | None:
        if sid is None:
            return None
        return tx.scalar("SELECT role FROM cm_members WHERE group_id = ? AND subscriber_id = ? AND state = 'active'",
                         (group_id, sid))

    def _admin(self, tx: Any, group_id: int, sid: int | None) -> None:
        if self.role(tx, group_id, sid) != "admin":
            raise Forbidden("only an admin of this group can do this")

    def new_invite(self, admin_sid: int, group_id: int) -> str:
        code = new_code()
        with self.db.transaction() as tx:
            self._admin(tx, group_id, admin_sid)
            tx.execute("UPDATE cm_groups SET invite_hash = ?, join_mode = 'code' WHERE id = ?", (_code_hash(code), group_id))
        return code

    def find_by_code(self, tenant_code: str, code: str) -> int:
        """The group of this municipality whose current invitation code this is (how a resident who was only
        given a code finds the group, private ones included)."""
        if code.strip():
            with self.db.read() as tx:
                gid = tx.scalar("SELECT id FROM cm_groups WHERE tenant_code = ? AND invite_hash = ? ORDER BY id",
                                (tenant_code, _code_hash(code)))
            if gid:
                return int(gid)
        raise Forbidden("this invitation code is not valid for any group of this municipality")

    def of_resident(self, sid: int, tenant_code: str) -> list[dict[str, Any]]:
        """The groups a resident belongs to or asked to join (role, state), for their own page."""
        with self.db.read() as tx:
            return tx.query("SELECT g.id, g.name, g.kind, g.private, g.join_mode, m.role, m.state FROM cm_members m"
                            " JOIN cm_groups g ON g.id = m.group_id WHERE m.subscriber_id = ? AND g.tenant_code = ?"
                            " ORDER BY m.state, g.name", (sid, tenant_code))

    def join(self, sid: int, group_id: int, code: str = "") -> str:
        """With the right invitation code: a member at once. Otherwise (approval groups) a request."""
        group = self.get(group_id)
        now = self.clock.iso()
        with self.db.transaction() as tx:
            self._resident_of(tx, sid, group.tenant_code)
            if tx.scalar("SELECT state FROM cm_members WHERE group_id = ? AND subscriber_id = ?", (group_id, sid)):
                return str(tx.scalar("SELECT state FROM cm_members WHERE group_id = ? AND subscriber_id = ?",
                                     (group_id, sid)))
            ok = bool(code) and tx.scalar("SELECT invite_hash FROM cm_groups WHERE id = ?", (group_id,)) == _code_hash(code)
            if not ok and group.join_mode == "code":
                raise Forbidden("this invitation code is not valid for the group")
            state = "active" if ok else "pending"
            tx.execute("INSERT INTO cm_members (group_id, subscriber_id, role, state, created) VALUES (?, ?, 'member',"
                       " ?, ?)", (group_id, sid, state, now))
        return state

    def approve_member(self, admin_sid: int, group_id: int, sid: int) -> None:
        with self.db.transaction() as tx:
            self._admin(tx, group_id, admin_sid)
            if not tx.execute("UPDATE cm_members SET state = 'active' WHERE group_id = ? AND subscriber_id = ?",
                              (group_id, sid)).rowcount:
                raise NotFound("no such request to join")

    # -- staff view of members --------------------------------------------------------------------------
    def member_rows(self, by: Principal, group_id: int) -> list[dict[str, Any]]:
        group = self.get(group_id)
        self._staff(by, group.tenant_code)
        with self.db.read() as tx:
            return tx.query("SELECT subscriber_id, role, state, created FROM cm_members WHERE group_id = ?"
                            " ORDER BY state DESC, role, subscriber_id", (group_id,))

    def staff_decide_member(self, by: Principal, group_id: int, sid: int, approve: bool) -> None:
        """Staff let a pending member in, or turn the request down (the row goes)."""
        group = self.get(group_id)
        self._staff(by, group.tenant_code)
        with self.db.transaction() as tx:
            if approve:
                done = tx.execute("UPDATE cm_members SET state = 'active' WHERE group_id = ? AND subscriber_id = ?"
                                  " AND state = 'pending'", (group_id, sid)).rowcount
            else:
                done = tx.execute("DELETE FROM cm_members WHERE group_id = ? AND subscriber_id = ? AND state = 'pending'",
                                  (group_id, sid)).rowcount
            if not done:
                raise NotFound("no such request to join")
            self.audit.append(tx, by.actor, "community.member." + ("approve" if approve else "refuse"),
                              f"group:{group_id}", tenant=group.tenant_code, after={"subscriber": sid})

    def staff_new_invite(self, by: Principal, group_id: int) -> str:
        group = self.get(group_id)
        self._staff(by, group.tenant_code)
        code = new_code()
        with self.db.transaction() as tx:
            tx.execute("UPDATE cm_groups SET invite_hash = ?, join_mode = 'code' WHERE id = ?", (_code_hash(code), group_id))
            self.audit.append(tx, by.actor, "community.group.invite", f"group:{group_id}", tenant=group.tenant_code)
        return code

    def pending_posts(self, tenant_code: str) -> list[dict[str, Any]]:
        """The moderation queue of every group of the municipality."""
        with self.db.read() as tx:
            return tx.query("SELECT p.id, p.group_id, g.name AS group_name, p.title, p.body, p.created FROM cm_posts p"
                            " JOIN cm_groups g ON g.id = p.group_id WHERE g.tenant_code = ? AND p.state = 'pending'"
                            " ORDER BY p.id", (tenant_code,))

    def counts(self, tenant_code: str) -> dict[int, dict[str, int]]:
        """Active members and pending requests per group."""
        with self.db.read() as tx:
            rows = tx.query("SELECT m.group_id, m.state, count(*) AS n FROM cm_members m JOIN cm_groups g"
                            " ON g.id = m.group_id WHERE g.tenant_code = ? GROUP BY m.group_id, m.state", (tenant_code,))
        out: dict[int, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["group_id"], {"active": 0, "pending": 0})[r["state"]] = int(r["n"])
        return out

    def leave(self, sid: int, group_id: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM cm_members WHERE group_id = ? AND subscriber_id = ?", (group_id, sid))

    def members(self, tx: Any, group_id: int) -> list[int]:
        return [r["subscriber_id"] for r in tx.query(
            "SELECT subscriber_id FROM cm_members WHERE group_id = ? AND state = 'active' ORDER BY subscriber_id",
            (group_id,))]

    # -- posts ------------------------------------------------------------------------------------------
    def post(self, group_id: int, title: str, body: str, *, sid: int | None = None, staff: Principal | None = None) -> int:
        """A notice from a group admin (or staff): published and delivered at once, or held for moderation."""
        group = self.get(group_id)
        if not body.strip() or not title.strip():
            raise Invalid("a post needs a title and a text")
        with self.db.transaction() as tx:
            if staff is not None:
                self._staff(staff, group.tenant_code)
                author, state = staff.actor, "published"
            else:
                self._resident_of(tx, sid, group.tenant_code)
                self._admin(tx, group_id, sid)
                author, state = f"subscriber:{sid}", "pending" if group.moderated else "published"
            pid = tx.insert("INSERT INTO cm_posts (group_id, author, author_sid, title, body, state, created)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)", (group_id, author, sid, title.strip(), body.strip(),
                                                              state, self.clock.iso()))
            if state == "published":
                self._deliver(tx, group, pid, title, body, sid)
        return pid

    def moderate(self, by: Principal, post_id: int, publish: bool) -> None:
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM cm_posts WHERE id = ?", (post_id,))
            if not row or row["state"] != "pending":
                raise NotFound("no post waiting for moderation")
            group = self.get(row["group_id"])
            self._staff(by, group.tenant_code)
            tx.execute("UPDATE cm_posts SET state = ? WHERE id = ?", ("published" if publish else "rejected", post_id))
            self.audit.append(tx, by.actor, "community.post.moderate", f"post:{post_id}", tenant=group.tenant_code,
                              after={"publish": publish})
            if publish:
                self._deliver(tx, group, post_id, row["title"], row["body"], row["author_sid"])

    def _deliver(self, tx: Any, group: Group, post_id: int, title: str, body: str, author_sid: int | None) -> list[int]:
        sids = [s for s in self.members(tx, group.id) if s != author_sid]
        url = f"{self.al.config.public_url}/community/groups/{group.id}"
        return queue_personal(tx, self.al.sealer, self.clock, sids, "community", f"【{group.name}】{title}",
                              f"{body}\n\n{url}", url=url)

    def post_in_tx(self, tx: Any, group_id: int, title: str, body: str, author: str) -> int:
        """A system post (an approved suspicious-person report to a school/PTA group) inside the caller's tx."""
        row = tx.one("SELECT * FROM cm_groups WHERE id = ?", (group_id,))
        pid = tx.insert("INSERT INTO cm_posts (group_id, author, title, body, state, created) VALUES (?, ?, ?, ?,"
                        " 'published', ?)", (group_id, author, title, body, self.clock.iso()))
        self._deliver(tx, _group(row), pid, title, body, None)
        return pid

    def reply(self, sid: int, group_id: int, parent_id: int, body: str) -> int:
        if not body.strip():
            raise Invalid("the reply is empty")
        group = self.get(group_id)
        with self.db.transaction() as tx:
            self._resident_of(tx, sid, group.tenant_code)
            if self.role(tx, group_id, sid) is None:
                raise Forbidden("only members can reply in this group")
            if not tx.scalar("SELECT id FROM cm_posts WHERE id = ? AND group_id = ? AND state = 'published'",
                             (parent_id, group_id)):
                raise NotFound("no such post in this group")
            return tx.insert("INSERT INTO cm_posts (group_id, parent_id, author, author_sid, body, state, created)"
                             " VALUES (?, ?, ?, ?, ?, 'published', ?)",
                             (group_id, parent_id, f"subscriber:{sid}", sid, body.strip(), self.clock.iso()))

    def page(self, group_id: int, sid: int | None = None, staff: Principal | None = None) -> dict[str, Any]:
        """What the group page shows; a private group only to its members (and its municipality's staff)."""
        group = self.get(group_id)
        with self.db.read() as tx:
            role = self.role(tx, group_id, sid)
            state = tx.scalar("SELECT state FROM cm_members WHERE group_id = ? AND subscriber_id = ?",
                              (group_id, sid)) if sid is not None else None
            is_staff = staff is not None and is_staff_of(staff, group.tenant_code)
            if group.private and role is None and not is_staff:
                raise Forbidden("this group is private: only its members can read it")
            posts = tx.query("SELECT id, parent_id, title, body, created FROM cm_posts WHERE group_id = ?"
                             " AND state = 'published' ORDER BY id", (group_id,))
            pending = tx.query("SELECT id, title, body, created FROM cm_posts WHERE group_id = ? AND state = 'pending'"
                               " ORDER BY id", (group_id,)) if is_staff or role == "admin" else []
        top = [dict(p, replies=[r for r in posts if r["parent_id"] == p["id"]]) for p in posts if p["parent_id"] is None]
        return {"group": group, "role": role, "state": state, "posts": top[::-1], "pending": pending}

    def covering(self, tx: Any, tenant_code: str, lat: float, lon: float, kinds: tuple[str, ...] = ("school", "pta")) -> list[int]:
        """Groups of these kinds whose area (e.g. a school district) covers the point."""
        marks = ", ".join("?" for _ in kinds)
        rows = tx.query(f"SELECT g.id, u.geom FROM cm_groups g JOIN al_area_units u ON u.id = g.unit_id"
                        f" WHERE g.tenant_code = ? AND g.kind IN ({marks}) ORDER BY g.id", (tenant_code, *kinds))
        point = shapely.Point(lon, lat)
        return [r["id"] for r in rows if shapely.from_wkb(bytes(r["geom"])).covers(point)]
