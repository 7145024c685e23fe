"""Process accounting from /proc: CPU seconds and resident memory of a process tree."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stats() -> list[tuple[int, list[str]]]:
    """(pid, the fields of /proc/<pid>/stat after the command name) for every process."""
    stats = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        stats.append((int(entry.name), stat.rsplit(")", 1)[1].split()))
    return stats


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for child, fields in _stats():
        children.setdefault(int(fields[1]), []).append(child)
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`."""
    return [pid for pid, fields in _stats() if fields[0] != "Z" and int(fields[2]) == pgid]


def cpu_seconds_by_process(pid: int) -> dict[int, float]:
    """utime + stime of each live process of the tree rooted at `pid`."""
    out: dict[int, float] = {}
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[p] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of stat)
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree rooted at `pid` (live processes only)."""
    return sum(cpu_seconds_by_process(pid).values())


def busiest_share(before: dict[int, float], after: dict[int, float]) -> float | None:
    """The busiest process's share of the CPU the tree used between two readings (0.5 = two workers split evenly);
    None when it used none."""
    used = [after[p] - before.get(p, 0.0) for p in after]
    total = sum(used)
    return max(used) / total if total > 0 else None


def rss_bytes(pid: int) -> int:
    """Resident memory of the process tree rooted at `pid`."""
    total = 0
    for p in descendants(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE
        except OSError:
            continue
    return total
