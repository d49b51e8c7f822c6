"""``dicomnode web user add NAME --role ROLE`` and ``dicomnode web user list``: dashboard users.

Users live in the audit database (table ``web_users``, salted scrypt hashes); adding one is
recorded as an administrator action. The password is read from a prompt (typed twice) or
from the first line of ``--password-file``; it never appears on the command line.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dicomnode.cli.admin_cmds import ConfigOpt, DbUrlOpt, _open
from dicomnode.cli.app import app
from dicomnode.web.roles import Role

web_app = typer.Typer(help="The web dashboard.", no_args_is_help=True)
user_app = typer.Typer(help="Dashboard users (local authentication).", no_args_is_help=True)
web_app.add_typer(user_app, name="user")
app.add_typer(web_app, name="web")


UserNameArg = Annotated[str, typer.Argument(help="User name (the login).")]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        exists=True,
        dir_okay=False,
        help="Read the password from the first line of this file instead of a prompt.",
    ),
]


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise typer.BadParameter("the passwords differ")
    return first


@user_app.command("add")
def user_add_command(
    name: UserNameArg,
    role: Annotated[
        Role, typer.Option("--role", help="viewer, operator or planner.")
    ] = Role.VIEWER,
    password_file: PasswordFileOpt = None,
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Add a dashboard user with a role; exits 1 when the name is taken."""
    from dicomnode.web.users import UserExistsError, UserStore

    password = _password(password_file)
    audit = _open(config, db_url)
    try:
        UserStore(audit.engine).add(name, role, password, by_user=f"cli:{getpass.getuser()}")
    except (UserExistsError, ValueError) as exc:
        Console(stderr=True).print(f"cannot add user: {exc}")
        raise typer.Exit(1) from None
    finally:
        audit.dispose()
    Console().print(f"user {name.strip()} added with role {role.value}")


@user_app.command("password")
def user_password_command(
    name: UserNameArg,
    password_file: PasswordFileOpt = None,
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Change a dashboard user's password and end their sessions; exits 1 when unknown."""
    from dicomnode.web.users import UnknownUserError, UserStore

    password = _password(password_file)
    audit = _open(config, db_url)
    try:
        UserStore(audit.engine).set_password(
            name.strip(), password, by_user=f"cli:{getpass.getuser()}"
        )
    except (UnknownUserError, ValueError) as exc:
        Console(stderr=True).print(f"cannot change the password: {exc}")
        raise typer.Exit(1) from None
    finally:
        audit.dispose()
    Console().print(f"password of {name.strip()} changed; their sessions have ended")


@user_app.command("list")
def user_list_command(config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """List the dashboard users and their roles."""
    from dicomnode.web.users import UserStore

    audit = _open(config, db_url)
    try:
        users = UserStore(audit.engine).list()
    finally:
        audit.dispose()
    table = Table(title=f"Dashboard users ({len(users)})")
    for column in ("Name", "Role", "Created (UTC)"):
        table.add_column(column)
    for user in users:
        table.add_row(user.name, user.role.value, user.created_at.strftime("%Y-%m-%d %H:%M"))
    Console().print(table)
