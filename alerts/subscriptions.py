"""Residents' subscriptions: sign-up with double opt-in (web form or 空メール), preferences and one-click
unsubscribe by signed link, Web Push subscriptions from a browser.

Contacts are sealed (Fernet) and found by a keyed hash; unconfirmed sign-ups are deleted after
alerts_pending_signup_hours and an unsubscribe deletes the subscriber with its contacts and areas. Answers
never tell whether an address is registered (the mail tells its owner). Resident self-service is not written
to the audit log: the log is append-only and must not keep contacts that are deleted on unsubscribe."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from alerts import ratelimit
from alerts.areas import AreaStore
from alerts.config import AlertConfig
from alerts.links import Links
from alerts.mail.address import normalise_email
from alerts.model import topics_of
from alerts.notices import notice
from alerts.outbox import Outbox
from alerts.prefs import Choices, describe_areas, parse_choices
from machihub.clock import Clock
from machihub.db import Database, Tx
from machihub.errors import Invalid, NotFound
from machihub.sealing import Sealer
from machihub.tenants import TenantStore


@dataclass(frozen=True)
class Subscription:
    id: int
    tenant_code: str
    status: str
    topics: list[str]
    language: str
    quiet_start: int | None
    quiet_end: int | None
    areas: list[dict[str, Any]]
    email: str | None
    push: bool


class SubscriberStore:
    def __init__(self, db: Database, clock: Clock, config: AlertConfig, tenants: TenantStore, areas: AreaStore,
                 outbox: Outbox, links: Links, sealer: Sealer) -> None:
        self.db, self.clock, self.config, self.tenants, self.areas = db, clock, config, tenants, areas
        self.outbox, self.links, self.sealer = outbox, links, sealer

    def choices(self, tenant_code: str, **kw: Any) -> Choices:
        return parse_choices(self.areas, tenant_code, **kw)

    # -- creating ---------------------------------------------------------------------------------------
    def _insert(self, tx: Tx, tenant_code: str, c: Choices, status: str, audience: str = "public") -> int:
        now = self.clock.iso()
        sid = tx.insert("INSERT INTO al_subscribers (tenant_code, status, audience, topics, language, quiet_start,"
                        " quiet_end, link_nonce, created, confirmed, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (tenant_code, status, audience, c.topics, c.language, c.quiet_start, c.quiet_end,
                         secrets.token_urlsafe(12), now, now if status == "active" else None, now))
        self._set_areas(tx, sid, c)
        return sid

    def _set_areas(self, tx: Tx, sid: int, c: Choices) -> None:
        tx.execute("DELETE FROM al_sub_areas WHERE subscriber_id = ?", (sid,))
        tx.executemany("INSERT INTO al_sub_areas (subscriber_id, unit_id, lat, lon, radius_m, geom, minx, miny, maxx,"
                       " maxy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(sid, *row) for row in c.areas])

    def _add_contact(self, tx: Tx, sid: int, tenant_code: str, kind: str, address: str, key: str) -> None:
        tx.execute("INSERT INTO al_contacts (subscriber_id, tenant_code, kind, address_sealed, address_hash, created)"
                   " VALUES (?, ?, ?, ?, ?, ?)", (sid, tenant_code, kind, self.sealer.seal(address),
                                                  self.links.address_hash(kind, key), self.clock.iso()))

    def _mail(self, tx: Tx, kind: str, to: str, lang: str, **values: Any) -> None:
        subject, body = notice(kind, lang, hours=self.config.pending_signup_hours, **values)
        payload = json.dumps({"to": to, "subject": subject, "body": body, "lang": lang}, ensure_ascii=False)
        self.outbox.enqueue_message(tx, "email", kind, self.sealer.seal(payload))

    def _link(self, purpose: str, sid: int, nonce: str) -> str:
        path = {"c": "confirm", "p": "p", "u": "u"}[purpose]
        return f"{self.config.public_url}/alerts/{path}/{self.links.make(purpose, sid, nonce)}"

    def signup(self, tenant_code: str, email: str, choices: Choices, client: str = "-") -> None:
        """Web form sign-up: a pending subscription and a confirmation mail (or, for an address already
        registered, a mail with its preferences link; the answer on the page is the same)."""
        address = normalise_email(email)
        tenant = self.tenants.get(tenant_code)
        now = self.clock.now()
        with self.db.transaction() as tx:
            ratelimit.hit(tx, now, f"client:{client}", self.config.signups_per_client_hour, timedelta(hours=1),
                          "too many sign-ups from your network; try again in an hour")
            key = self.links.address_hash("email", address.lower())
            ratelimit.hit(tx, now, f"addr:{key}", self.config.signups_per_address_day, timedelta(days=1),
                          "this address was sent enough confirmation mails today; check its inbox")
            row = tx.one("SELECT s.id, s.status, s.link_nonce FROM al_contacts c JOIN al_subscribers s"
                         " ON s.id = c.subscriber_id WHERE c.tenant_code = ? AND c.kind = 'email' AND c.address_hash = ?",
                         (tenant_code, key))
            if row and row["status"] == "active":
                self._mail(tx, "manage", address, choices.language, tenant=tenant.name,
                           url=self._link("p", row["id"], row["link_nonce"]))
                return
            if row:  # pending: the latest choices win, a fresh confirmation goes out
                tx.execute("DELETE FROM al_subscribers WHERE id = ?", (row["id"],))
            sid = self._insert(tx, tenant_code, choices, "pending")
            self._add_contact(tx, sid, tenant_code, "email", address, address.lower())
            nonce = tx.scalar("SELECT link_nonce FROM al_subscribers WHERE id = ?", (sid,))
            self._mail(tx, "confirm", address, choices.language, tenant=tenant.name, url=self._link("c", sid, nonce))

    def confirm(self, token: str) -> str:
        """Activate a pending sign-up; returns the subscriber's preferences link token."""
        with self.db.transaction() as tx:
            row = self._by_token(tx, token, "c")
            if row["status"] != "active":
                tx.execute("UPDATE al_subscribers SET status = 'active', confirmed = ?, updated = ? WHERE id = ?",
                           (self.clock.iso(), self.clock.iso(), row["id"]))
                # proving the mailbox works again lifts an earlier bounce suppression
                tx.execute("DELETE FROM al_suppressions WHERE address_hash IN"
                           " (SELECT address_hash FROM al_contacts WHERE subscriber_id = ?)", (row["id"],))
        return self.links.make("p", row["id"], row["link_nonce"])

    # -- 空メール ------------------------------------------------------------------------------------------
    def mail_signup_request(self, sender: str, tenant_code: str | None) -> None:
        """Answer an empty mail with a one-time link; the link proves the sender owns the mailbox."""
        address = normalise_email(sender)
        token = secrets.token_urlsafe(16)
        now = self.clock.now()
        with self.db.transaction() as tx:
            key = self.links.address_hash("email", address.lower())
            ratelimit.hit(tx, now, f"addr:{key}", self.config.signups_per_address_day, timedelta(days=1),
                          "too many sign-up mails for this address today")
            expires = (now + timedelta(hours=self.config.pending_signup_hours)).isoformat(timespec="microseconds")
            tx.execute("INSERT INTO al_signup_tokens (token_hash, tenant_code, address_sealed, expires) VALUES (?, ?, ?, ?)",
                       (self.links.address_hash("token", token), tenant_code, self.sealer.seal(address), expires))
            self._mail(tx, "signup", address, "ja", url=f"{self.config.public_url}/alerts/signup/{token}")

    def signup_token(self, token: str) -> tuple[str | None, str]:
        """(tenant code or None, mail address) of a valid 空メール link."""
        with self.db.transaction() as tx:
            row = tx.one("SELECT * FROM al_signup_tokens WHERE token_hash = ? AND expires > ?",
                         (self.links.address_hash("token", token), self.clock.iso()))
        if not row:
            raise NotFound("this sign-up link is unknown or expired; send the empty mail again")
        return row["tenant_code"], self.sealer.open(row["address_sealed"])

    def complete_mail_signup(self, token: str, tenant_code: str, choices: Choices) -> str:
        """Finish a 空メール sign-up: active at once (the mailbox is proven). Returns the preferences link."""
        _, address = self.signup_token(token)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM al_signup_tokens WHERE token_hash = ?", (self.links.address_hash("token", token),))
            key = self.links.address_hash("email", address.lower())
            old = tx.scalar("SELECT subscriber_id FROM al_contacts WHERE tenant_code = ? AND kind = 'email'"
                            " AND address_hash = ?", (tenant_code, key))
            if old:
                tx.execute("DELETE FROM al_subscribers WHERE id = ?", (old,))
            sid = self._insert(tx, tenant_code, choices, "active")
            self._add_contact(tx, sid, tenant_code, "email", address, address.lower())
            tx.execute("DELETE FROM al_suppressions WHERE address_hash = ?", (key,))
            nonce = tx.scalar("SELECT link_nonce FROM al_subscribers WHERE id = ?", (sid,))
        return self.links.make("p", sid, nonce)

    # -- Web Push -----------------------------------------------------------------------------------------
    def push_subscribe(self, tenant_code: str, subscription: dict[str, Any], choices: Choices, client: str = "-") -> str:
        """A browser's push subscription (it proves itself: no confirmation mail). Returns its preferences link."""
        endpoint = str(subscription.get("endpoint") or "")
        keys = subscription.get("keys") or {}
        parts = urlsplit(endpoint)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise Invalid("a push subscription endpoint must be an https URL")
        if not (isinstance(keys, dict) and 80 <= len(str(keys.get("p256dh", ""))) <= 100
                and 16 <= len(str(keys.get("auth", ""))) <= 32):
            raise Invalid("the push subscription has no usable keys")
        clean = {"endpoint": endpoint, "keys": {"p256dh": str(keys["p256dh"]), "auth": str(keys["auth"])}}
        with self.db.transaction() as tx:
            ratelimit.hit(tx, self.clock.now(), f"client:{client}", self.config.signups_per_client_hour,
                          timedelta(hours=1), "too many sign-ups from your network; try again in an hour")
            key = self.links.address_hash("webpush", endpoint)
            old = tx.scalar("SELECT subscriber_id FROM al_contacts WHERE kind = 'webpush' AND address_hash = ?", (key,))
            if old:
                tx.execute("DELETE FROM al_subscribers WHERE id = ?", (old,))
            sid = self._insert(tx, tenant_code, choices, "active")
            self._add_contact(tx, sid, tenant_code, "webpush", json.dumps(clean), endpoint)
            nonce = tx.scalar("SELECT link_nonce FROM al_subscribers WHERE id = ?", (sid,))
        return self.links.make("p", sid, nonce)

    def push_unsubscribe(self, endpoint: str) -> bool:
        with self.db.transaction() as tx:
            sid = tx.scalar("SELECT subscriber_id FROM al_contacts WHERE kind = 'webpush' AND address_hash = ?",
                            (self.links.address_hash("webpush", endpoint),))
            if sid:
                self._delete(tx, sid)
        return bool(sid)

    # -- by signed link -----------------------------------------------------------------------------------
    def _by_token(self, tx: Tx, token: str, purpose: str) -> dict[str, Any]:
        sid = self.links.subscriber_id(token)
        row = tx.one("SELECT * FROM al_subscribers WHERE id = ?", (sid,)) if sid is not None else None
        if not row or not self.links.check(token, purpose, row["link_nonce"]):
            raise NotFound("this link is not valid any more; you may already have unsubscribed")
        return row

    def view(self, token: str, purpose: str = "p") -> Subscription:
        with self.db.transaction() as tx:
            row = self._by_token(tx, token, purpose)
            contacts = tx.query("SELECT kind, address_sealed FROM al_contacts WHERE subscriber_id = ?", (row["id"],))
            area_rows = tx.query("SELECT unit_id, lat, lon, radius_m, geom FROM al_sub_areas WHERE subscriber_id = ?"
                                 " ORDER BY id", (row["id"],))
        email = next((self.sealer.open(c["address_sealed"]) for c in contacts if c["kind"] == "email"), None)
        return Subscription(row["id"], row["tenant_code"], row["status"], topics_of(row["topics"]), row["language"],
                            row["quiet_start"], row["quiet_end"], describe_areas(self.areas, row["tenant_code"], area_rows),
                            email, any(c["kind"] == "webpush" for c in contacts))

    def update(self, token: str, choices: Choices) -> Subscription:
        with self.db.transaction() as tx:
            row = self._by_token(tx, token, "p")
            tx.execute("UPDATE al_subscribers SET topics = ?, language = ?, quiet_start = ?, quiet_end = ?, updated = ?"
                       " WHERE id = ?", (choices.topics, choices.language, choices.quiet_start, choices.quiet_end,
                                         self.clock.iso(), row["id"]))
            self._set_areas(tx, row["id"], choices)
        return self.view(token)

    def unsubscribe(self, token: str) -> None:
        """One-click unsubscribe ('u' link) or from the preferences page ('p'): everything about the
        subscriber is deleted; messages still queued for them are not sent."""
        with self.db.transaction() as tx:
            for purpose in ("u", "p"):
                try:
                    row = self._by_token(tx, token, purpose)
                    break
                except NotFound:
                    continue
            else:
                raise NotFound("this link is not valid any more; you may already have unsubscribed")
            self._delete(tx, row["id"])

    def _delete(self, tx: Tx, sid: int) -> None:
        tx.execute("UPDATE al_outbox SET state = 'unsubscribed' WHERE subscriber_id = ? AND state = 'queued'", (sid,))
        tx.execute("DELETE FROM al_subscribers WHERE id = ?", (sid,))

    def remove_contact(self, contact_id: int) -> None:
        """A contact that is gone (Web Push 404/410): removed, with its subscriber if nothing else is left."""
        with self.db.transaction() as tx:
            sid = tx.scalar("SELECT subscriber_id FROM al_contacts WHERE id = ?", (contact_id,))
            tx.execute("DELETE FROM al_contacts WHERE id = ?", (contact_id,))
            if sid and not tx.scalar("SELECT count(*) FROM al_contacts WHERE subscriber_id = ?", (sid,)):
                self._delete(tx, sid)

    def purge(self) -> int:
        """Delete unconfirmed sign-ups past their time and expired 空メール links (run by the scheduler)."""
        now = self.clock.now()
        cutoff = (now - timedelta(hours=self.config.pending_signup_hours)).isoformat(timespec="microseconds")
        with self.db.transaction() as tx:
            n = tx.execute("DELETE FROM al_subscribers WHERE status = 'pending' AND created < ?", (cutoff,)).rowcount
            tx.execute("DELETE FROM al_signup_tokens WHERE expires < ?", (now.isoformat(timespec="microseconds"),))
            ratelimit.purge(tx, now)
        return n or 0
