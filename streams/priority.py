"""CPU priority of the threads on the forecast path (best effort, Linux).

Measured on the 2-core test machine (kernel HZ = 250, EEVDF scheduler): a thread woken by a
marker frame while another thread of the same priority runs on its core often waits for the next
scheduler tick, 4 ms, before it runs. That wait, once per hop (device -> runtime -> subscriber),
was most of the forecast latency above 5 ms. A real-time policy (``SCHED_FIFO``) makes a woken
thread preempt ordinary ones at once; the forecast path does a few hundred microseconds of work
per frame, so it cannot take a core from the rest for long (and Linux keeps 5 % of every second
for ordinary threads in any case, ``sched_rt_runtime_us``).

The threads that get ``SCHED_FIFO`` can also be pinned to one CPU (``rt_cpu``; off by default).
Measured on the same machine, idle (a virtual machine whose idle vCPUs halt): a bare pyzmq
device -> relay -> subscriber chain of three processes at 30 Hz had a p99 of 8-9 ms with or
without ``SCHED_FIFO`` while its wake-ups crossed between the two vCPUs, and 0.54 ms with all
three on one vCPU. In the full demo the effect was lost in the hypervisor's steal, and a pinned
FIFO event loop keeps that CPU for ingest at 16-24 beds, so it is not the default. Threads that
did not get ``SCHED_FIFO`` are never pinned (a pinned ordinary thread could not move to an idle CPU).

A thread that gets ``SCHED_FIFO`` here also gets ``SCHED_RESET_ON_FORK``: the threads it starts begin
as ordinary ones. Without it they inherited the real-time policy, and the event loop starts some
lazily: the recorder's writer (a thread pool created at the first flush) and, under it, the
threads polars writes Parquet with. Seen in the demo (``ps -eLo cls,comm``): five ``SCHED_FIFO``
threads in the runtime besides the loop and ZeroMQ's (the writer, two ``tokio-rt-worker``, two
``async-executor``). A Parquet write then runs ahead of every ordinary thread on the machine:
``benchmarks/bench_rt_threads.py`` (5 writes of 3,000,000 rows) had an independent ordinary process
wake up to 54 ms late 5 times, and 0 times with the flag. The demo's own recordings are small, and
its 100 ms stalls were the hypervisor's (:mod:`streams.steal`): this change did not move its p99.

``SCHED_FIFO`` needs ``CAP_SYS_NICE`` (root) or an ``RLIMIT_RTPRIO`` allowance (``ulimit -r``,
``/etc/security/limits.conf``). Without either, these functions leave the thread as it is and
say so: nothing fails, the latency is just less predictable.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

_PR_SET_NAME = 15
_RESET_ON_FORK = getattr(os, "SCHED_RESET_ON_FORK", 0)   # Linux: new threads do not inherit the policy


def name_os_thread(name: str):
    """Give the calling thread a name ``top -H`` and ``ps -L`` show (15 bytes at most)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _set_fifo(tid: int, rt_priority: int) -> bool:
    """``SCHED_FIFO`` at ``rt_priority`` for thread ``tid``; threads it starts begin ordinary."""
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO | _RESET_ON_FORK, os.sched_param(int(rt_priority)))
        return True
    except (AttributeError, OSError, PermissionError):
        return False


def forecast_cpu(cpu: int = -1) -> int | None:
    """The CPU to pin the forecast path to: ``cpu`` when this process may run there, the last CPU
    it may run on for ``cpu = -2``; None (no pinning) for ``cpu = -1`` or where affinity is not
    supported."""
    if cpu == -1:
        return None
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None
    if cpu >= 0:
        return cpu if cpu in allowed else None
    return max(allowed) if allowed else None


def _pin(tid: int, cpu: int | None) -> bool:
    if cpu is None:
        return False
    try:
        os.sched_setaffinity(tid, {cpu})
        return True
    except (AttributeError, OSError):
        return False


def realtime_thread(rt_priority: int, name: str | None = None, cpu: int | None = None) -> str:
    """Give the calling thread ``SCHED_FIFO`` at ``rt_priority`` (1-99; 0: leave it) and, when
    that worked, pin it to ``cpu`` (None: no pinning; see :func:`forecast_cpu`).

    Returns what it got, for the logs and the status: ``"SCHED_FIFO 10 on CPU 1"`` or
    ``"normal (...)"``.
    """
    if name:
        name_os_thread(name)
    if rt_priority <= 0:
        return "normal (real-time priority off)"
    tid = threading.get_native_id()
    if not _set_fifo(tid, rt_priority):
        return "normal (no permission for SCHED_FIFO: run as root or allow it with ulimit -r)"
    where = f" on CPU {cpu}" if _pin(tid, cpu) else ""
    return f"SCHED_FIFO {int(rt_priority)}{where}"


_context_tags = itertools.count()


def tagged_zmq_context():
    """A new ZeroMQ context whose background threads carry a tag in their names (``17/ZMQbg/IO/0``
    instead of ``ZMQbg/IO/0``): with it :func:`realtime_zmq_io_threads` finds exactly this context's
    I/O threads. The tag is set before the context's first socket starts its threads (a later
    setting has no effect). Thread names hold 15 bytes, so the tags are 1 .. 999 in turn: distinct
    unless a process keeps more than 998 other contexts alive."""
    import zmq
    ctx = zmq.Context()
    ctx.set(zmq.THREAD_NAME_PREFIX, next(_context_tags) % 999 + 1)
    return ctx


def realtime_zmq_io_threads(rt_priority: int, contexts, cpu: int | None = None) -> int:
    """Give the I/O threads of ``contexts`` (ZeroMQ contexts, each with at least one socket: the
    first socket starts them) ``SCHED_FIFO`` as well, pinned to ``cpu`` like the thread they serve:
    every frame passes through them on its way in and out. Returns how many were raised.

    A new I/O thread names itself a moment after it starts; this waits (up to 2 s) until every I/O
    thread of ``contexts`` has. Contexts made by :func:`tagged_zmq_context` (the runtime's and the
    SDK's own) are told apart by name, so an I/O thread of another context in the process (one a
    library made, or one waiting for the garbage collector) is neither raised nor mistaken for one
    of theirs. An untagged context's I/O threads are named like every other untagged context's:
    for one, every such thread of the process is raised."""
    if rt_priority <= 0 or not os.path.isdir("/proc/self/task"):   # off, or not Linux: nothing to find
        return 0
    import zmq
    names = {_io_thread_name(ctx.get(zmq.THREAD_NAME_PREFIX), i)
             for ctx in contexts for i in range(ctx.get(zmq.IO_THREADS))}
    t_end = time.monotonic() + 2.0
    while True:
        found = _zmq_io_threads()
        missing = names - set(found.values())
        if not missing or time.monotonic() > t_end:
            break
        time.sleep(0.005)
    if missing:
        log.warning("ZeroMQ I/O threads %s not found; they keep their priority", ", ".join(sorted(missing)))
    raised = [tid for tid, name in found.items() if name in names and _set_fifo(tid, rt_priority)]
    for tid in raised:
        _pin(tid, cpu)
    return len(raised)


def _io_thread_name(tag: int, index: int) -> str:
    # libzmq names its threads "<tag>/ZMQbg/IO/<n>" (no "<tag>/" when the tag is 0); the kernel keeps 15 bytes
    return ((f"{tag}/" if tag else "") + f"ZMQbg/IO/{index}")[:15]


def _zmq_io_threads() -> dict[int, str]:
    """Thread id -> name of this process's ZeroMQ I/O threads (every context's)."""
    out = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if "ZMQbg/IO" in name:
            out[int(tid)] = name
    return out


def policy_of(tid: int) -> str:
    """The scheduling policy of thread ``tid``, for tests and the status (without the
    ``SCHED_RESET_ON_FORK`` flag; :func:`resets_on_fork` tells that)."""
    pol = os.sched_getscheduler(tid) & ~_RESET_ON_FORK
    return {os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR", os.SCHED_OTHER: "SCHED_OTHER"}.get(pol, str(pol))


def resets_on_fork(tid: int) -> bool:
    """Whether threads that thread ``tid`` starts begin with the ordinary policy."""
    return bool(_RESET_ON_FORK and os.sched_getscheduler(tid) & _RESET_ON_FORK)


def ordinary_thread() -> bool:
    """Give the calling thread the ordinary policy (``SCHED_OTHER``) if it has a real-time one
    (inherited from the thread that started it); True when it changed. For the background
    threads (encoder lanes, the score thread, the recorder's writer): whoever starts them, they
    must never run ahead of the forecast path, nor take a core from every ordinary thread."""
    try:
        tid = threading.get_native_id()
        if os.sched_getscheduler(tid) & ~_RESET_ON_FORK in (os.SCHED_FIFO, os.SCHED_RR):
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            return True
    except (AttributeError, OSError):
        pass
    return False


class CpuWakeupLatency:
    """Ask the kernel to keep every CPU able to wake within ``us`` microseconds while held.

    Writes ``us`` to ``/dev/cpu_dma_latency`` (the kernel's PM QoS CPU latency request, as
    ``cyclictest`` and tuned's *latency-performance* profile do) and keeps the file open: the
    request holds until :meth:`close` or the process exits. With 0, idle CPUs poll instead of
    halting. On a virtual machine a halted vCPU is woken through the hypervisor; measured on the
    2-core test VM (idle CPUs halt, ``haltpoll`` with ``guest_halt_poll_ns`` 0), a bare pyzmq device
    -> relay -> subscriber chain at 30 Hz had p99 3-10 ms without the request and 0.6-1.0 ms with it.
    The price is idle CPUs that stay busy polling (power, and a neighbour's share of the host).

    Best effort like the rest of this module: without permission (the device is root's) nothing
    changes and :attr:`state` says so.
    """

    PATH = "/dev/cpu_dma_latency"

    def __init__(self, us: int, path: str = PATH):
        self.us, self._fd = int(us), None
        if self.us < 0:
            self.state = "not requested"
            return
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as e:
            self.state = f"not held ({path}: {e.strerror or e}; run as root to hold it)"
            return
        try:
            os.write(fd, self.us.to_bytes(4, "little", signed=True))
        except OSError as e:
            os.close(fd)
            self.state = f"not held (writing {path}: {e.strerror or e})"
            return
        self._fd = fd
        self.state = f"held at {self.us} us ({path})"

    @property
    def held(self) -> bool:
        return self._fd is not None

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.state = "released"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
