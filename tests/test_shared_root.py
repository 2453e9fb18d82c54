"""A root shared by the hosts of a cluster: its lock names the host that holds it, a second host is refused with
where to go, and a mount whose locks hold on one host only is refused, named, rather than written twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from core.local.lock import lock_scope_problem

LINE = "36 25 0:33 / {point} rw,relatime shared:1 - {fstype} server:/export rw,{opts}\n"


def _mounts(*rows: tuple[str, str, str]) -> str:
    return "".join(LINE.format(point=p, fstype=t, opts=o) for p, t, o in
                   (("/", "ext4", "errors=remount-ro"), *rows))


@pytest.mark.parametrize(("fstype", "opts", "refused"), [
    ("nfs4", "vers=4.2,hard,proto=tcp,local_lock=none", False),  # the default: locks held by the server
    ("nfs", "vers=3,nolock,proto=tcp", True),
    ("nfs4", "vers=4.1,local_lock=all", True),
    ("lustre", "flock,lazystatfs", False),
    ("lustre", "localflock", True),
    ("ext4", "nolock", False),  # only a shared filesystem's options matter
])
def test_a_mount_whose_locks_hold_on_one_host_is_named(fstype: str, opts: str, refused: bool) -> None:
    info = _mounts(("/shared", fstype, opts), ("/shared/other", "ext4", "rw"))
    problem = lock_scope_problem(Path("/shared/ws"), info)
    assert (problem is not None) == refused
    if refused:
        assert "/shared/ws" in problem and fstype in problem and "pack" in problem  # type: ignore[operator]
    assert lock_scope_problem(Path("/shared/other/ws"), info) is None  # the nearest mount counts
    spaced = _mounts(("/shared\\040with\\040space", fstype, opts))  # mountinfo's octal escapes read
    assert (lock_scope_problem(Path("/shared with space/ws"), spaced) is not None) == refused


def test_a_root_held_from_another_host_says_which_host(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(root / '.musicgen-tui.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.ftruncate(fd, 0); os.pwrite(fd, b'4242@gpu-node-07', 0)\n"
        "print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = ["--root", str(root)]
        capsys.readouterr()
        assert main(["download", "--model", "acme/tiny-model", "--run", *r]) == 2
        err = capsys.readouterr().err
        assert "pid 4242 on host gpu-node-07" in err and "run musicgen-tui on gpu-node-07" in err
        started = time.monotonic()
        assert main(["download", "--model", "acme/tiny-model", "--run", "--detach", *r]) == 2
        assert "gpu-node-07" in capsys.readouterr().err
        assert time.monotonic() - started < 10  # said at once, not after waiting for a socket of another host
    finally:
        holder.kill()
        holder.wait()
