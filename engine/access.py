"""Who may do what: the workspace's access settings (`[access]` in
`$WORKBENCH_HOME/workbench.toml`), the signed-in user's role, the role each dashboard action
needs, and which data a run submitted from the dashboard may read.

    [access]
    viewers = ["@example.com"]          # read runs and reports
    editors = ["ada@example.com"]       # + upload data, launch, cancel, resume
    admins = ["grace@example.com"]      # + delete runs and datasets, free space, settings
    data_roots = ["/srv/corpora"]       # folders the dashboard may read besides uploads

An entry is an e-mail address (case-insensitive), a domain (`@example.com` or
`*@example.com`) or `*` (anyone the sign-in provider vouches for). A user's role is the
highest list they match. Without sign-in (`[auth]` absent from Streamlit's secrets) the
dashboard is in single-user local mode: the one user is `LOCAL`, an admin.

The dashboard's actions live in `engine/actions.py`, each calling `require` where it runs;
the pages only hide what a role cannot use.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError, WorkbenchError

SETTINGS_FILE = "workbench.toml"
ROLES = ("viewer", "editor", "admin")  # each role may do what the ones before it may
LISTS = {"viewer": "viewers", "editor": "editors", "admin": "admins"}
KEYS = (*LISTS.values(), "data_roots")
# the role each dashboard action needs (engine/actions.py asks for it by name)
NEEDS = {
    "read": "viewer",
    "launch": "editor", "cancel": "editor", "resume": "editor", "upload": "editor",
    "sweep": "editor", "curve": "editor", "predict": "editor",
    "delete run": "admin", "delete dataset": "admin", "free space": "admin",
    "settings": "admin", "audit": "admin",
}
DEMO_PREFIX = "demo:"
DATASET_PREFIX = "dataset:"
DATA_FIELDS = ("train", "dev", "test")  # the run-config keys that name data


class Forbidden(WorkbenchError):
    """The user's role does not allow the action."""


@dataclass(frozen=True)
class User:
    """Who is using the dashboard: `email` from the sign-in provider (or "local"), the role
    the access lists give it (None: signed in, but on no list)."""
    email: str
    name: str = ""
    role: str | None = None
    local: bool = False

    def can(self, action: str) -> bool:
        return allowed(self.role, NEEDS[action])

    @property
    def label(self) -> str:
        """How records and the audit log name this user."""
        return self.email


LOCAL = User("local", "local user", "admin", local=True)


def cli_user() -> User:
    """The machine's own user running the CLI (`cli:<login>`): every right, as on the shell."""
    import getpass

    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        login = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return User(f"cli:{login}", "command line", "admin", local=True)


@dataclass(frozen=True)
class Access:
    viewers: tuple[str, ...] = ()
    editors: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    data_roots: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def to_dict(self) -> dict:
        return {k: list(getattr(self, k)) for k in KEYS}


def allowed(role: str | None, needed: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def settings_path(home: Path) -> Path:
    return Path(home) / SETTINGS_FILE


def load(home: Path) -> Access:
    """The `[access]` settings of the workspace at `home` (empty when the file or the section
    is absent); ConfigError naming the file and the key when they are malformed."""
    path = settings_path(home)
    if not path.exists():
        return Access(source=str(path))
    return from_dict(read_toml_section(path, "access"), source=str(path))


def read_toml_section(path: Path, section: str) -> object:
    """Table `section` of workbench.toml at `path` ({} when the file or table is absent);
    ConfigError naming the file when it cannot be read or is not UTF-8 TOML."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return doc.get(section, {})


def from_dict(section: object, *, source: str = "[access]") -> Access:
    """An Access from the `[access]` table; ConfigError naming the bad key."""
    from core.config import did_you_mean

    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [access] must be a table")
    values: dict[str, tuple[str, ...]] = {}
    for key, value in section.items():
        if key not in KEYS:
            raise ConfigError(f"{source}: unknown key access.{key}" + did_you_mean(key, KEYS))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: access.{key} must be a list of strings")
        entries = tuple(v.strip() for v in value if v.strip())
        if key == "data_roots":
            for entry in entries:
                if not os.path.isabs(os.path.expanduser(entry)):
                    raise ConfigError(f"{source}: access.data_roots entry {entry!r} is not an absolute path")
        else:
            for entry in entries:
                if entry != "*" and "@" not in entry:
                    raise ConfigError(f"{source}: access.{key} entry {entry!r} is neither an e-mail "
                                      "address, a domain (@example.com) nor *")
        values[key] = entries
    return Access(**values, source=source)


def matches(email: str, entry: str) -> bool:
    email, entry = email.strip().lower(), entry.strip().lower()
    if entry == "*":
        return bool(email)
    if entry.startswith("*@"):
        entry = entry[1:]
    if entry.startswith("@"):
        return email.endswith(entry) and email.count("@") == 1 and len(email) > len(entry)
    return email == entry


def role_of(email: str | None, access: Access) -> str | None:
    """The highest role whose list matches `email`; None when none does."""
    if not email:
        return None
    for role in reversed(ROLES):
        if any(matches(email, e) for e in getattr(access, LISTS[role])):
            return role
    return None


def signed_in(email: str | None, name: str | None, access: Access) -> User:
    """The User for an identity the sign-in provider returned."""
    return User(email=(email or "").strip(), name=name or "", role=role_of(email, access))


def require(user: User, action: str) -> None:
    """Forbidden unless `user` may do `action` (a key of NEEDS)."""
    needed = NEEDS[action]
    if not allowed(user.role, needed):
        who = f"{user.role} {user.email}" if user.role else f"{user.email} (no role)"
        raise Forbidden(f"{who} may not {action}: {needed}s and above only")


# ---- which data the dashboard may read ---------------------------------------------------

def check_data(config: dict, access: Access) -> None:
    """For a run config submitted from the dashboard: every data reference must be a demo, a
    stored dataset, or a file under one of the admin's data roots. The check looks only at
    the path, never at the file, so a refusal says nothing about what exists on the server.
    """
    for key in DATA_FIELDS:
        ref = config.get(key)
        if not ref or not isinstance(ref, str):
            continue
        if ref.startswith((DEMO_PREFIX, DATASET_PREFIX)):
            continue
        if not under_roots(ref, access.data_roots):
            roots = ", ".join(access.data_roots) or "none are set"
            raise Forbidden(f"{key}: the dashboard reads only stored datasets (upload the file on "
                            f"the Data page), demo data, and files under the data roots an admin "
                            f"lists in workbench.toml [access] data_roots ({roots})")


def under_roots(path: str, roots: tuple[str, ...]) -> bool:
    """Whether `path`, with symlinks and '..' resolved, lies inside one of `roots`."""
    try:
        real = os.path.realpath(os.path.expanduser(path))
    except (OSError, ValueError):
        return False
    for root in roots:
        base = os.path.realpath(os.path.expanduser(root))
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


# ---- writing the settings -----------------------------------------------------------------

def save(home: Path, access: Access) -> None:
    """Write `access` as the `[access]` table of workbench.toml, atomically, keeping the
    file's other tables (comments are not kept)."""
    path = settings_path(home)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        doc = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be rewritten, fix it by hand first ({exc})") from None
    from_dict(access.to_dict(), source=str(path))  # the same checks a read makes
    doc["access"] = access.to_dict()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(dump_toml(doc), encoding="utf-8")
    os.replace(tmp, path)


def dump_toml(doc: dict) -> str:
    """TOML for a document of tables holding strings, numbers, booleans and lists of them."""
    import json

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise ConfigError(f"cannot write {type(v).__name__} values to workbench.toml")

    lines: list[str] = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for table, body in doc.items():
        if isinstance(body, dict):
            lines += ["", f"[{table}]"] + [f"{k} = {value(v)}" for k, v in body.items()]
    return "\n".join(lines).lstrip("\n") + "\n"
