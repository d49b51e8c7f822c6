"""Users of the web dashboard and their roles, in the audit database (``web_users``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.engine import UnitsOfWork
from dicomnode.audit.store import utc_now
from dicomnode.web.passwords import hash_password, verify_password
from dicomnode.web.roles import Role

USER_TARGET = "web_user:{name}"
"""How an administrator action names a dashboard user."""


class UserExistsError(ValueError):
    """A user of that name exists already."""


class UnknownUserError(LookupError):
    """No user of that name."""


@dataclass(frozen=True)
class WebUser:
    """A dashboard user (never carries the password hash)."""

    name: str
    role: Role
    created_at: datetime
    session_epoch: int
    """Moves on at each logout and password change; sessions of earlier epochs are void."""


def _user(row: m.WebUser) -> WebUser:
    return WebUser(row.name, Role(row.role), row.created_at, row.session_epoch)


class UserStore:
    """Adds, checks and looks up dashboard users.

    Parameters
    ----------
    engine : Engine
        The audit database's engine (schema at revision 0003 or later).
    clock : callable, optional
        Returns the current time (timezone-aware UTC).
    """

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self._uow = UnitsOfWork(engine)
        self._clock = clock or utc_now

    def add(self, name: str, role: Role, password: str, *, by_user: str) -> WebUser:
        """Create a user; records the administrator action ``user_add``.

        Raises
        ------
        UserExistsError
            The name is taken.
        ValueError
            Empty name, or a password that is too short.
        """
        name = name.strip()
        if not name:
            raise ValueError("a user needs a name")
        password_hash = hash_password(password)
        now = self._clock()
        with self._uow.write() as session:
            if session.scalar(select(m.WebUser.id).where(m.WebUser.name == name)) is not None:
                raise UserExistsError(f"user {name!r} exists already")
            session.add(
                m.WebUser(
                    name=name,
                    role=role.value,
                    password_hash=password_hash,
                    session_epoch=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.add(
                m.AdminAction(
                    user=by_user,
                    action="user_add",
                    target=USER_TARGET.format(name=name),
                    detail=f"role {role.value}",
                    occurred_at=now,
                )
            )
        return WebUser(name, role, now, 0)

    def authenticate(self, name: str, password: str) -> WebUser | None:
        """The user when ``password`` is theirs, else ``None``."""
        with self._uow.read() as session:
            row = session.scalar(select(m.WebUser).where(m.WebUser.name == name.strip()))
            if row is None:
                verify_password(password, _dummy_hash())  # same cost whether or not the user exists
                return None
            if not verify_password(password, row.password_hash):
                return None
            return _user(row)

    def get(self, name: str) -> WebUser | None:
        """The user of that name, or ``None``."""
        with self._uow.read() as session:
            row = session.scalar(select(m.WebUser).where(m.WebUser.name == name.strip()))
            return None if row is None else _user(row)

    def list(self) -> list[WebUser]:
        """Every user, by name."""
        with self._uow.read() as session:
            rows = session.scalars(select(m.WebUser).order_by(m.WebUser.name))
            return [_user(r) for r in rows]

    def end_sessions(self, name: str) -> None:
        """Void every session of the user (logout): their session epoch moves on.

        Raises
        ------
        UnknownUserError
            No user of that name.
        """
        with self._uow.write() as session:
            self._next_epoch(session, name)

    def set_password(self, name: str, password: str, *, by_user: str) -> None:
        """Replace the user's password and void their sessions; records the administrator
        action ``password_change``.

        Raises
        ------
        UnknownUserError
            No user of that name.
        ValueError
            The password is too short.
        """
        password_hash = hash_password(password)
        with self._uow.write() as session:
            row = self._next_epoch(session, name)
            row.password_hash = password_hash
            session.add(
                m.AdminAction(
                    user=by_user,
                    action="password_change",
                    target=USER_TARGET.format(name=row.name),
                    detail="sessions ended",
                    occurred_at=row.updated_at,
                )
            )

    def _next_epoch(self, session: Session, name: str) -> m.WebUser:
        """Move the user's session epoch on (in SQL: concurrent moves all count)."""
        row = session.scalar(select(m.WebUser).where(m.WebUser.name == name.strip()))
        if row is None:
            raise UnknownUserError(f"no user {name.strip()!r}")
        row.session_epoch = m.WebUser.session_epoch + 1
        row.updated_at = self._clock()
        return row


@cache
def _dummy_hash() -> str:
    """Checked against when a user is unknown, so timing does not reveal which names exist."""
    return hash_password("not-a-real-password")
