"""Staff users (argon2 passwords, roles, login rate limiting, sessions) and API keys for machine clients."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database
from machihub.errors import Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from machihub.principal import ROLES, Principal
from machihub.sealing import Sealer

SESSION_HOURS = 10
API_PURPOSES = ("ils", "receiver", "watch", "liaison", "features")


@dataclass(frozen=True)
class User:
    id: int
    tenant_code: str
    username: str
    display_name: str
    department_id: int | None
    roles: frozenset[str]

    def principal(self) -> Principal:
        return Principal(actor=f"user:{self.username}", tenant_code=self.tenant_code,
                         department_id=self.department_id, roles=self.roles)


@dataclass(frozen=True)
class Session:
    token: str
    csrf_token: str
    user: User


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: dict) -> User:
    roles = frozenset(r for r in row["roles"].split(",") if r)
    return User(row["id"], row["tenant_code"], row["username"], row["display_name"], row["department_id"], roles)


class UserStore:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, secret_key: str,
                 attempts_per_minute: int = 5) -> None:
        self.db, self.audit, self.clock = db, audit, clock
        # Parameters kept modest so a login costs ~50 ms, not seconds, on a 2-core server.
        self.hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
        self.sealer = Sealer(secret_key, "api-keys")
        self.attempts_per_minute = attempts_per_minute

    # -- users ---------------------------------------------------------------------------------------
    def add(self, by: Principal, tenant_code: str, username: str, password: str, *, roles: list[str],
            department_id: int | None = None, display_name: str = "") -> User:
        if not by.admin_of(tenant_code):
            raise Forbidden("only an admin of this tenant can add users")
        bad = sorted(set(roles) - set(ROLES))
        if bad:
            raise Invalid(f"unknown roles {', '.join(bad)}; known: {', '.join(ROLES)}")
        if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise Invalid("username must be letters, digits, '-', '_' or '.'")
        if len(password) < 10:
            raise Invalid("password must have at least 10 characters")
        if "layer_editor" in roles and department_id is None:
            raise Invalid("a layer editor belongs to a department")
        with self.db.transaction() as tx:
            if department_id is not None:
                dept = tx.one("SELECT tenant_code FROM mh_departments WHERE id = ?", (department_id,))
                if not dept or dept["tenant_code"] != tenant_code:
                    raise Invalid(f"department {department_id} is not a department of tenant {tenant_code}")
            if tx.one("SELECT id FROM mh_users WHERE username = ?", (username,)):
                raise Invalid(f"user {username!r} already exists")
            tx.execute("INSERT INTO mh_users (tenant_code, username, display_name, password_hash, department_id,"
                       " roles, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (tenant_code, username, display_name, self.hasher.hash(password), department_id,
                        ",".join(sorted(roles)), self.clock.iso()))
            self.audit.append(tx, by.actor, "user.add", f"user:{username}", tenant=tenant_code,
                              after={"roles": sorted(roles), "department_id": department_id})
        return self.get(username)

    def get(self, username: str) -> User:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_users WHERE username = ? AND active = 1", (username,))
        if not row:
            raise NotFound(f"no user {username!r}")
        return _user(row)

    def by_id(self, user_id: int) -> User:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_users WHERE id = ? AND active = 1", (user_id,))
        if not row:
            raise NotFound(f"no user {user_id}")
        return _user(row)

    # -- login ---------------------------------------------------------------------------------------
    def _check_rate(self, tx, subjects: list[str]) -> None:
        since = (self.clock.now() - timedelta(minutes=1)).isoformat(timespec="microseconds")
        for subject in subjects:
            n = tx.scalar("SELECT count(*) FROM mh_login_failures WHERE subject = ? AND ts > ?", (subject, since))
            if n >= self.attempts_per_minute:
                raise TooManyRequests("too many failed logins; wait a minute and try again")

    def login(self, username: str, password: str, client: str = "-") -> Session:
        subjects = [f"user:{username}", f"client:{client}"]
        with self.db.transaction() as tx:
            self._check_rate(tx, subjects)
            row = tx.one("SELECT * FROM mh_users WHERE username = ? AND active = 1", (username,))
        ok = False
        if row:
            try:
                ok = self.hasher.verify(row["password_hash"], password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            self.hasher.hash(password)  # same cost whether or not the user exists
        with self.db.transaction() as tx:
            if not ok:
                for subject in subjects:
                    tx.execute("INSERT INTO mh_login_failures (subject, ts) VALUES (?, ?)",
                               (subject, self.clock.iso()))
                self.audit.append(tx, f"anon:{client}", "login.failed", f"user:{username}",
                                  tenant=row["tenant_code"] if row else None)
            else:
                token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
                expires = (self.clock.now() + timedelta(hours=SESSION_HOURS)).isoformat(timespec="seconds")
                tx.execute("INSERT INTO mh_sessions (token_hash, user_id, csrf_token, created, expires)"
                           " VALUES (?, ?, ?, ?, ?)", (_hash_token(token), row["id"], csrf, self.clock.iso(), expires))
                tx.execute("DELETE FROM mh_login_failures WHERE subject = ?", (f"user:{username}",))
                self.audit.append(tx, f"user:{username}", "login", f"user:{username}", tenant=row["tenant_code"])
        if not ok:
            raise Unauthorized("user name or password is wrong")
        return Session(token, csrf, _user(row))

    def session(self, token: str) -> Session | None:
        with self.db.read() as tx:
            row = tx.one("SELECT s.csrf_token, s.expires, u.* FROM mh_sessions s JOIN mh_users u ON u.id = s.user_id"
                         " WHERE s.token_hash = ? AND u.active = 1", (_hash_token(token),))
        if not row or datetime.fromisoformat(row["expires"]) < self.clock.now():
            return None
        return Session(token, row["csrf_token"], _user(row))

    def logout(self, token: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM mh_sessions WHERE token_hash = ?", (_hash_token(token),))

    # -- API keys ------------------------------------------------------------------------------------
    def add_api_key(self, by: Principal, tenant_code: str, name: str, purpose: str) -> tuple[str, str]:
        """Returns (key_id, secret); the secret is shown once. It is kept sealed because HMAC checks need it."""
        if not by.admin_of(tenant_code):
            raise Forbidden("only an admin of this tenant can create API keys")
        if purpose not in API_PURPOSES:
            raise Invalid(f"unknown API key purpose {purpose!r}; known: {', '.join(API_PURPOSES)}")
        key_id, secret = f"mh_{secrets.token_hex(8)}", secrets.token_urlsafe(32)
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO mh_api_keys (tenant_code, name, purpose, key_id, secret_hash, secret_sealed,"
                       " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (tenant_code, name, purpose, key_id, _hash_token(secret), self.sealer.seal(secret),
                        self.clock.iso()))
            self.audit.append(tx, by.actor, "apikey.add", f"apikey:{key_id}", tenant=tenant_code,
                              after={"name": name, "purpose": purpose})
        return key_id, secret

    def _api_row(self, key_id: str) -> dict:
        with self.db.read() as tx:
            row = tx.one("SELECT * FROM mh_api_keys WHERE key_id = ? AND revoked IS NULL", (key_id,))
        if not row:
            raise Unauthorized("unknown or revoked API key")
        return row

    @staticmethod
    def _api_principal(row: dict) -> Principal:
        return Principal(actor=f"api:{row['key_id']}", tenant_code=row["tenant_code"], purpose=row["purpose"])

    def api_bearer(self, key_id: str, secret: str, purpose: str) -> Principal:
        row = self._api_row(key_id)
        if not hmac.compare_digest(row["secret_hash"], _hash_token(secret)):
            raise Unauthorized("wrong API key secret")
        if row["purpose"] != purpose:
            raise Forbidden(f"this API key is for {row['purpose']}, not {purpose}")
        return self._api_principal(row)

    def api_signed(self, key_id: str, body: bytes, signature_hex: str, purpose: str) -> Principal:
        """HMAC-SHA256 over the raw body, hex, as the ILS/receiver sends it."""
        row = self._api_row(key_id)
        expected = hmac.new(self.sealer.open(row["secret_sealed"]).encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, (signature_hex or "").removeprefix("sha256=")):
            raise Unauthorized("bad request signature")
        if row["purpose"] != purpose:
            raise Forbidden(f"this API key is for {row['purpose']}, not {purpose}")
        return self._api_principal(row)
