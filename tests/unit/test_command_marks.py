"""The marks the provider processes of one command share: which argument is the engine address, and which marks
still hold a name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pulumi_fwcluster.ledger import CommandMarks, Ledger, engine_address

NAME = "accounts/acme/clusters/prod-use1"


@pytest.mark.parametrize(
    ("argv", "address"),
    [
        (["python", "127.0.0.1:45123"], "127.0.0.1:45123"),
        (["pulumi-resource-fireworks", "--logtostderr", "-v=9", "127.0.0.1:5"], "127.0.0.1:5"),
        (["pulumi-resource-fireworks", "[::1]:7000"], "[::1]:7000"),
        (["python", "-m", "pytest", "tests/unit"], None),
        (["python"], None),
        (["python", "-p", "no:cacheprovider"], None),
    ],
)
def test_the_engine_address_is_the_last_positional_argument(argv: list[str], address: str | None) -> None:
    assert engine_address(argv) == address


def test_a_name_another_live_process_of_the_command_holds_refuses_the_delete(tmp_path: Path) -> None:
    here = CommandMarks("127.0.0.1:4000", root=tmp_path)
    there = CommandMarks("127.0.0.1:4000", root=tmp_path)  # another process: this test's pid, alive
    elsewhere = CommandMarks("127.0.0.1:4001", root=tmp_path)  # another command
    there.hold(NAME)
    elsewhere.hold("accounts/acme/clusters/other")
    assert here.held_elsewhere(NAME)
    assert not there.held_elsewhere(NAME)  # its own mark
    assert not here.held_elsewhere("accounts/acme/clusters/other")
    assert Ledger(marks=here).why_not_delete(NAME) is not None
    there.release_all()
    assert not here.held_elsewhere(NAME) and Ledger(marks=here).why_not_delete(NAME) is None


@pytest.mark.skipif(sys.platform == "win32", reason="Windows marks expire by age, not by process")
def test_the_mark_of_a_process_that_ended_holds_nothing_and_is_removed(tmp_path: Path) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(ended.stdout)
    here = CommandMarks("127.0.0.1:4000", root=tmp_path)
    there = CommandMarks("127.0.0.1:4000", root=tmp_path)
    there.hold(NAME)
    (mark,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    stale = mark.with_name(f"{pid}-{'0' * 32}")
    mark.rename(stale)
    assert pid != os.getpid() and not here.held_elsewhere(NAME)
    assert not stale.exists()


def test_a_folder_that_is_not_this_users_own_is_not_used_and_never_fails_a_check(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "marks"
    link.symlink_to(target)  # someone put a symlink where the marks go (a shared /tmp)
    marks = CommandMarks("127.0.0.1:4000", root=link)
    assert not marks.usable
    marks.hold(NAME)
    assert list(target.iterdir()) == [] and not marks.held_elsewhere(NAME)

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    marks = CommandMarks("127.0.0.1:4000", root=blocked / "marks")  # cannot be made
    assert not marks.usable
    ledger = Ledger(marks=marks)
    ledger.checked(NAME, had_olds=False)  # a Check still works
    assert ledger.why_not_delete(NAME) is not None  # and the process's own ledger still protects the name
