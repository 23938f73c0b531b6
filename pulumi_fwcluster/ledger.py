"""What one Pulumi command has seen of each cluster name, so that a delete never removes a cluster that another
resource of the same stack holds.

The provider never sees the stack's state, only one resource at a time. But the engine runs a whole command in one
provider process, and it checks every resource of the program before it deletes the ones that left it (pkg/resource/
deploy/step_generator.go: registrations first, then GenerateDeletes). So the process can remember, per name
(`accounts/{account}/clusters/{id}`):

- **declared**: a resource of the program declares this name (its Check ran in this command);
- **replacing**: that resource is being replaced and keeps its name, so deleting it first is part of the plan (its
  Diff said delete-before-replace, or the engine checked it again with no old inputs, as it does for a replacement);
- **claimed**: a create in this command submitted or adopted this name, for one resource; **recorded** once that
  create ended with the cluster in the stack (READY, or recorded with its error by the native door).

A delete of a name recorded by a create is of a second pointer to that cluster: the delete drops the record and
leaves the cluster. A delete of a name that is claimed, or declared and not being replaced, would remove a cluster
another resource holds (a rename without an alias, a copy of a resource removed from the program, `--replace`
creating first): it is refused. (Pending deletes from an earlier command are retired before any Check, so nothing
here can stop those: which is why a recorded name drops the record rather than leave a refused old half pending.)

The dynamic server is one process per command and may hold several provider instances: they share the process's
ledger. The native plugin's provider starts a new ledger at each `configure`, once per command.

A command can run more than one provider process: the dynamic server and the `fireworks` plugin (a stack moving from
one door to the other), or several explicit provider instances. Every plugin of one command gets the same engine
address as its last argument (pkg/resource/plugin: `host.ServerAddr()`), so the processes share **marks**, files in a
folder of the user's own, keyed by that address: each process marks the names it declares or claims, and a delete is refused
while another live process of the command holds a mark on its name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

_ENGINE_ADDRESS = re.compile(r"^[\w.\-\[\]:]+:\d{1,5}$")
# A mark whose process cannot be asked about (Windows has no signal 0) counts this long; a command's marks this old
# are swept away.
_MARK_LIFETIME_SECONDS = 24 * 3600.0


def engine_address(argv: Sequence[str]) -> str | None:
    """The engine address the CLI passed this plugin process (the last positional argument), if any."""
    positional = [a for a in argv[1:] if not a.startswith("-")]
    return positional[-1] if positional and _ENGINE_ADDRESS.match(positional[-1]) else None


def _alive(pid: int, marked_at: float) -> bool:
    if sys.platform == "win32":
        return time.time() - marked_at < _MARK_LIFETIME_SECONDS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class CommandMarks:
    """The names the provider processes of one command hold, shared through the file system."""

    def __init__(self, command: str, root: Path | None = None) -> None:
        self._roots = [root] if root is not None else _candidate_roots()
        self._root = self._roots[0]
        self._command = _digest(command)
        self._dir = self._root / self._command
        self._me = f"{os.getpid()}-{uuid.uuid4().hex}"
        self._held: set[str] = set()
        self._usable: bool | None = None
        self._swept = False

    @classmethod
    def of_this_process(cls, *, new_command: bool = False) -> CommandMarks | None:
        """The marks of the command this process serves (None when it was given no engine address); with
        `new_command`, emptied of its own earlier ones first."""
        global _THIS_PROCESS
        address = engine_address(sys.argv)
        if address is None:
            return None
        with _THIS_PROCESS_LOCK:
            if _THIS_PROCESS is None:
                _THIS_PROCESS = cls(address)
            elif new_command:
                _THIS_PROCESS.release_all()
            return _THIS_PROCESS

    @property
    def usable(self) -> bool:
        """False when the folder cannot be made, or is not this user's own (a shared /tmp where someone else made
        it, or a symlink). Looked at on first use, so a process that never checks or deletes touches nothing."""
        if self._usable is None:
            # The first folder of this user's own, in an order every process of the command (same user, same
            # environment) walks alike, so they all meet in the same one.
            usable = next((r for r in self._roots if _private_folder(r)), None)
            self._usable = usable is not None
            if usable is not None:
                self._root, self._dir = usable, usable / self._command
        return self._usable

    def sweep(self) -> None:
        """Remove the marks of commands long over (their processes are gone; their addresses may come back)."""
        if not self.usable:
            return
        stale = time.time() - _MARK_LIFETIME_SECONDS
        for command in self._root.iterdir():
            with contextlib.suppress(OSError):
                if command.stat().st_mtime < stale:
                    shutil.rmtree(command, ignore_errors=True)

    def release_all(self) -> None:
        for name in list(self._held):
            with contextlib.suppress(OSError):
                (self._dir / _digest(name) / self._me).unlink(missing_ok=True)
        self._held.clear()

    def hold(self, name: str) -> None:
        """Mark `name` as held by this process. Best effort: a file system that refuses must not fail a Check."""
        if name in self._held or not self.usable:
            return
        if not self._swept:
            self._swept = True
            self.sweep()
        folder = self._dir / _digest(name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / self._me).touch()
        except OSError:
            return
        self._held.add(name)

    def held_elsewhere(self, name: str) -> bool:
        """Whether another live provider process of this command holds `name`."""
        folder = self._dir / _digest(name)
        if not self.usable or not folder.is_dir():
            return False
        try:
            marks = list(folder.iterdir())
        except OSError:
            return False
        for mark in marks:
            if mark.name == self._me:
                continue
            try:
                pid, marked_at = int(mark.name.split("-", 1)[0]), mark.stat().st_mtime
            except (ValueError, OSError):
                continue
            if _alive(pid, marked_at):
                return True
            with contextlib.suppress(OSError):
                mark.unlink(missing_ok=True)  # its process has ended: so has its part in the command
        return False


def _candidate_roots() -> list[Path]:
    roots = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        roots.append(Path(runtime) / "pulumi-fwcluster")
    roots.append(Path(tempfile.gettempdir()) / f"pulumi-fwcluster-{_user()}")
    with contextlib.suppress(RuntimeError):
        roots.append(Path.home() / ".cache" / "pulumi-fwcluster")
    return roots


def _private_folder(root: Path) -> bool:
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = root.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):  # a symlink or a file in its place
        return False
    return not hasattr(os, "getuid") or info.st_uid == os.getuid()


_THIS_PROCESS: CommandMarks | None = None
_THIS_PROCESS_LOCK = threading.Lock()
_PROCESS_LEDGER: Ledger | None = None


def process_ledger() -> Ledger:
    """The one ledger of this process, for a door whose process serves exactly one command (the dynamic server)."""
    global _PROCESS_LEDGER
    if _PROCESS_LEDGER is None:
        marks = CommandMarks.of_this_process()  # takes the lock itself
        with _THIS_PROCESS_LOCK:
            if _PROCESS_LEDGER is None:
                _PROCESS_LEDGER = Ledger(marks=marks)
    return _PROCESS_LEDGER


def _user() -> str:
    try:
        return str(os.getuid())
    except AttributeError:  # Windows
        return os.environ.get("USERNAME", "user")


@dataclass
class Ledger:
    declared: set[str] = field(default_factory=set)
    checked_with_olds: set[str] = field(default_factory=set)
    replacing: set[str] = field(default_factory=set)
    claims: dict[str, object] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    marks: CommandMarks | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def checked(self, name: str, *, had_olds: bool) -> None:
        """A Check of a resource that declares `name`; `had_olds` when its old inputs declared the same name. A
        second Check without them, after one with them, is the engine re-checking a replacement that keeps it."""
        with self._lock:
            self.declared.add(name)
            if self.marks is not None:
                self.marks.hold(name)
            if had_olds:
                self.checked_with_olds.add(name)
            elif name in self.checked_with_olds:
                self.replacing.add(name)

    def replaced_in_place(self, name: str) -> None:
        """A Diff planned to delete `name` and create it again (delete-before-replace)."""
        with self._lock:
            self.replacing.add(name)

    def claim(self, name: str, token: object) -> object | None:
        """Record that the create `token` submits `name`; returns the token of another create that already did."""
        with self._lock:
            if self.marks is not None:
                self.marks.hold(name)
            holder = self.claims.setdefault(name, token)
            return None if holder is token else holder

    def release(self, name: str, token: object) -> None:
        """The create `token` made nothing (its POST was refused)."""
        with self._lock:
            if self.claims.get(name) is token:
                del self.claims[name]

    def recorded(self, name: str, token: object) -> None:
        """The create `token` ended with `name` recorded for its resource."""
        with self._lock:
            if self.claims.get(name) is token:
                self.created.add(name)

    def recorded_by_a_create(self, name: str) -> bool:
        with self._lock:
            return name in self.created

    def is_replacing(self, name: str) -> bool:
        with self._lock:
            return name in self.replacing

    def blind_to_other_processes(self) -> bool:
        """This process has an engine address (other providers may serve the command), but no folder to share
        marks in: what they hold cannot be known."""
        return self.marks is not None and not self.marks.usable

    def why_not_delete(self, name: str) -> str | None:
        """None when deleting `name` is safe in this command; otherwise whose cluster it is."""
        with self._lock:
            if name in self.claims:
                return "this command has just created or adopted it for another resource"
            if name in self.declared and name not in self.replacing:
                return "another resource of this program declares it"
            if self.marks is not None and self.marks.held_elsewhere(name):
                return (
                    "a resource handled by another provider of this command declares it (the other door, "
                    "pulumi_fwcluster.Cluster or pulumi_fwcluster.native.Cluster, or another provider instance)"
                )
            self.replacing.discard(name)  # one replacement, one delete
            return None
