"""Readings of running processes from /proc, for the benchmark (tests/bench/bench.py),
the soak run (tests/soak/soak.py) and the test stack (conftest.py). A process that is
gone reads as 0 (None for fd_count, [] for cmdline): callers sample processes that
may exit at any moment."""
import os


def _stat(pid):
    """The fields of /proc/PID/stat after "(comm)": state, ppid, ... (man 5 proc)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()


def pids():
    """Every process id in /proc."""
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def cmdline(pid):
    """The process's arguments as bytes, [] when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def children(ppid):
    """[(pid, comm)] of the processes whose parent is ppid."""
    out = []
    for pid in pids():
        try:
            comm, fields = _stat(pid)
        except OSError:
            continue
        if int(fields[1]) == ppid:
            out.append((pid, comm))
    return out


def rss_kib(pid):
    """Resident set size in KiB (VmRSS)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    """Open file descriptors, None when the process is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def cpu_ticks(pids):
    """user+system clock ticks of these processes (their own, utime + stime)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)[1]
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def busy_ticks():
    """Busy clock ticks of the whole machine (every CPU), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
