"""``dicomnode web user add``, ``web user password`` and ``web user list``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dicomnode.audit.log import AuditLog
from dicomnode.cli import app
from dicomnode.web.roles import Role
from dicomnode.web.users import UserStore


def test_user_add_from_a_password_file_is_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    log = AuditLog.from_url(url)
    log.upgrade()
    secret = tmp_path / "password.txt"
    secret.write_text("a long enough password\n")
    runner = CliRunner()
    args = ["web", "user", "add", "alice", "--role", "operator", "--password-file", str(secret),
            "--db-url", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    users = UserStore(log.engine)
    user = users.authenticate("alice", "a long enough password")
    assert user is not None and user.role is Role.OPERATOR
    action = log.admin_actions(limit=1)[0]
    assert (action.action, action.target, action.detail) == (
        "user_add", "web_user:alice", "role operator"
    )
    assert action.user.startswith("cli:")
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "exists already" in again.output
    listed = runner.invoke(app, ["web", "user", "list", "--db-url", url])
    assert "alice" in listed.output and "operator" in listed.output
    log.dispose()


def test_user_add_refuses_a_short_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    log = AuditLog.from_url(url)
    log.upgrade()
    secret = tmp_path / "password.txt"
    secret.write_text("short\n")
    result = CliRunner().invoke(
        app, ["web", "user", "add", "bob", "--password-file", str(secret), "--db-url", url]
    )
    assert result.exit_code == 1 and "at least 8" in result.output
    assert UserStore(log.engine).list() == []
    log.dispose()


def test_user_password_changes_the_password_and_is_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    log = AuditLog.from_url(url)
    log.upgrade()
    users = UserStore(log.engine)
    users.add("carol", Role.VIEWER, "the first password", by_user="test")
    secret = tmp_path / "password.txt"
    secret.write_text("the second password\n")
    runner = CliRunner()
    args = ["web", "user", "password", "carol", "--password-file", str(secret), "--db-url", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert users.authenticate("carol", "the first password") is None
    assert users.authenticate("carol", "the second password") is not None
    assert log.admin_actions(limit=1)[0].action == "password_change"
    unknown = runner.invoke(
        app, ["web", "user", "password", "nobody", "--password-file", str(secret), "--db-url", url]
    )
    assert unknown.exit_code == 1 and "cannot change the password" in unknown.output
    log.dispose()
