"""Measure a command from outside: wall time, CPU seconds and peak memory of its whole process tree.

Standard library only (bench/datatrove_bench.py's venv is measured with it from pristine's side).

- CPU: the larger of (a) getrusage(RUSAGE_CHILDREN) before/after, which counts every descendant that
  was waited for, and (b) the sum of utime+stime last seen in /proc for every process of the tree
  (catches descendants nobody waited for; misses at most one sampling interval of each).
- Memory: peak of the summed RSS of the tree and the largest single process's peak RSS (both sampled
  every `interval` s, so a spike shorter than that can be missed).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, utime+stime ticks, rss pages) of every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        table[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]))
    return table


def _tree(root: int, table: dict) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


class TreeSampler(threading.Thread):
    def __init__(self, root: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.cpu_ticks: dict[int, int] = {}
        self.peak_rss = 0
        self.peak_procs = 0
        self.peak_proc_rss = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            table = _proc_table()
            pids = _tree(self.root, table)
            rss = 0
            for pid in pids:
                _, ticks, pages = table[pid]
                self.cpu_ticks[pid] = max(self.cpu_ticks.get(pid, 0), ticks)
                rss += pages
                self.peak_proc_rss = max(self.peak_proc_rss, pages * _PAGE)
            self.peak_rss = max(self.peak_rss, rss * _PAGE)
            self.peak_procs = max(self.peak_procs, len(pids))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_measured(
    cmd: list[str], env: dict | None = None, cwd: str | None = None, timeout: float = 3600
) -> dict:
    """Run `cmd`; returns wall_s, cpu_s, peak_rss_mb (tree), max_proc_rss_mb, procs, rc, stdout, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sampled_cpu = sum(sampler.cpu_ticks.values()) / _TICK
    return {
        "wall_s": wall,
        "cpu_s": max(rusage_cpu, sampled_cpu),
        "cpu_rusage_s": rusage_cpu,
        "cpu_sampled_s": sampled_cpu,
        "peak_rss_mb": sampler.peak_rss / 2**20,
        "max_proc_rss_mb": sampler.peak_proc_rss / 2**20,  # the largest single process (sampled)
        "procs": sampler.peak_procs,
        "rc": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
    }
