"""Part files of dead processes: found by target name, the folder listed once a minute."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lipbridge.parts import Folders, part_name, remove_stale_parts


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_only_the_targets_dead_parts_go_whatever_dots_its_name_has(tmp_path: Path) -> None:
    gone = dead_pid()
    (tmp_path / f".my.clip.v2.mp4.{gone}.0a1b.part").write_bytes(b"x")
    (tmp_path / f".clip.v2.mp4.{gone}.0a1b.part").write_bytes(b"x")  # a shorter name's
    (tmp_path / part_name(tmp_path / "my.clip.v2.mp4", "ffff")).write_bytes(b"x")  # mine
    (tmp_path / ".my.clip.v2.mp4.notapid.0a1b.part").write_bytes(b"x")
    remove_stale_parts(tmp_path / "my.clip.v2.mp4", Folders())
    assert names(tmp_path) == sorted([
        f".clip.v2.mp4.{gone}.0a1b.part",
        f".my.clip.v2.mp4.{os.getpid()}.ffff.part",
        ".my.clip.v2.mp4.notapid.0a1b.part",
    ])


def test_the_folder_is_listed_again_only_after_a_minute(tmp_path: Path) -> None:
    clock = FakeMonotonic()
    folders = Folders(clock)
    gone = dead_pid()
    remove_stale_parts(tmp_path / "a.mp4", folders)  # lists the (empty) folder
    late = tmp_path / f".a.mp4.{gone}.0a1b.part"
    late.write_bytes(b"x")
    clock.now += 59.0
    remove_stale_parts(tmp_path / "a.mp4", folders)
    assert late.exists()  # the listing is still fresh: no new scan
    clock.now += 2.0
    remove_stale_parts(tmp_path / "a.mp4", folders)
    assert not late.exists()


def test_a_missing_folder_lists_as_empty(tmp_path: Path) -> None:
    remove_stale_parts(tmp_path / "nowhere" / "a.mp4", Folders())
