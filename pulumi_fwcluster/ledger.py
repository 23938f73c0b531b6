"""What one Pulumi command has seen of each cluster name, so that a delete never removes a cluster that another
resource of the same stack holds.

The provider never sees the stack's state, only one resource at a time. But the engine runs a whole command in one
provider process, and it checks every resource of the program before it deletes the ones that left it (pkg/resource/
deploy/step_generator.go: registrations first, then GenerateDeletes). So the process can remember, per name
(`accounts/{account}/clusters/{id}`):

- **declared**: a resource of the program declares this name (its Check ran in this command);
- **replacing**: that resource is being replaced and keeps its name, so deleting it first is part of the plan (its
  Diff said delete-before-replace, or the engine checked it again with no old inputs, as it does for a replacement);
- **claimed**: a create in this command submitted or adopted this name, for one resource.

A delete of a name that is claimed, or declared and not being replaced, would remove a cluster another resource
holds (a rename without an alias, a copy of a resource removed from the program, `--replace` creating first): it is
refused. One ledger per provider process, which is one command: `configure` starts a new one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Ledger:
    declared: set[str] = field(default_factory=set)
    checked_with_olds: set[str] = field(default_factory=set)
    replacing: set[str] = field(default_factory=set)
    claims: dict[str, object] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def checked(self, name: str, *, had_olds: bool) -> None:
        """A Check of a resource that declares `name`; `had_olds` when its old inputs declared the same name. A
        second Check without them, after one with them, is the engine re-checking a replacement that keeps it."""
        with self._lock:
            self.declared.add(name)
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
            holder = self.claims.setdefault(name, token)
            return None if holder is token else holder

    def release(self, name: str, token: object) -> None:
        """The create `token` made nothing (its POST was refused)."""
        with self._lock:
            if self.claims.get(name) is token:
                del self.claims[name]

    def is_replacing(self, name: str) -> bool:
        with self._lock:
            return name in self.replacing

    def why_not_delete(self, name: str) -> str | None:
        """None when deleting `name` is safe in this command; otherwise whose cluster it is."""
        with self._lock:
            if name in self.claims:
                return "this command has just created or adopted it for another resource"
            if name in self.declared and name not in self.replacing:
                return "another resource of this program declares it"
            self.replacing.discard(name)  # one replacement, one delete
            return None
