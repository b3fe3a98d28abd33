"""Start a program on N ranks under ``mpiexec`` (the one installed beside this Python, from
the MPICH wheel, else the first on PATH), on this machine or on several (``hosts``, or an
MPI hostfile), and name the rank that failed when the job ends badly.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import selectors
import socket
import tempfile
import threading
import time

_ENV_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def under_mpi() -> bool:
    """Whether this process was started by an MPI launcher (``mpiexec -n N ...``)."""
    return any(v in os.environ for v in _ENV_RANK_VARS)


def find_mpiexec() -> str:
    """``mpiexec`` beside the running interpreter, else on PATH; an error saying how to get it."""
    for folder in (os.path.join(sys.prefix, "bin"), os.path.dirname(sys.executable)):
        path = os.path.join(folder, "mpiexec")
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("mpiexec")
    if found:
        return found
    raise FileNotFoundError("deepgrad.distributed: no mpiexec found beside this Python or on PATH; "
                            "pip install deepgrad[distributed]  (installs mpi4py and the MPICH wheel)")


def mpiexec_command(command: list[str], workers: int, hosts=None, hostfile=None) -> list[str]:
    """The hydra ``mpiexec`` command line that runs ``command`` on ``workers`` ranks."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if hosts and hostfile:
        raise ValueError("give hosts or a hostfile, not both")
    cmd = [find_mpiexec(), "-n", str(workers)]
    if hosts:
        cmd += ["-hosts", hosts if isinstance(hosts, str) else ",".join(hosts)]
    if hostfile:
        if not os.path.isfile(hostfile):
            raise FileNotFoundError(f"hostfile {hostfile!r} does not exist")
        cmd += ["-f", os.fspath(hostfile)]
    return cmd + list(command)


class RankWatch:
    """Which rank ended first, and whether it said goodbye.

    Each rank on this machine connects to a Unix socket here when it joins (``init``) and
    keeps the connection open; the kernel closes it the moment the process dies, however it
    dies (kill -9 included), and a rank that ends normally says "bye" first. hydra's own
    report names a pid, but not reliably the first that died, since it kills the others in
    turn. A rank that raised says "failed" before it aborts the job; otherwise the first
    connection closed without "bye" is the rank that failed.
    """

    def __init__(self, folder: str):
        self.path = os.path.join(folder, "ranks.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(256)
        self.ranks: dict = {}         # connection -> [rank, pid, host, None | "bye" | "failed"]
        self.failed: list = []        # (rank, pid, host, status), in the order their connections closed
        self.raised: list = []        # the ranks that said they raised an exception, in order
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.server, selectors.EVENT_READ)
        buffers: dict = {}
        # after the job ended, read on until every rank's connection is closed (or 5 s)
        while not self._stop or (len(selector.get_map()) > 1 and time.monotonic() < self._deadline):
            for key, _ in selector.select(timeout=0.1):
                if key.fileobj is self.server:
                    conn, _ = self.server.accept()
                    buffers[conn] = b""
                    selector.register(conn, selectors.EVENT_READ)
                    continue
                conn = key.fileobj
                data = conn.recv(4096)
                if data:
                    buffers[conn] += data
                    *lines, buffers[conn] = buffers[conn].split(b"\n")
                    for line in lines:
                        words = line.decode(errors="replace").split()
                        if len(words) == 3:
                            self.ranks[conn] = [int(words[0]), int(words[1]), words[2], False]
                        elif words in (["bye"], ["failed"]) and conn in self.ranks:
                            self.ranks[conn][3] = words[0]
                            if words[0] == "failed":
                                self.raised.append(tuple(self.ranks[conn]))
                    continue
                selector.unregister(conn)
                conn.close()
                info = self.ranks.get(conn)
                if info is not None and info[3] != "bye":
                    self.failed.append(tuple(info))

    def close(self) -> None:
        self._deadline = time.monotonic() + 5.0
        self._stop = True
        self.thread.join(timeout=6)
        self.server.close()


_BAD_TERMINATION = re.compile(r"(?:EXIT CODE: (\d+)|KILLED BY SIGNAL: (\d+))")


def failure_message(output: str, failed: list, workers: int, raised=()) -> str | None:
    """Our one line on a job that ended badly: the rank that failed first, and how."""
    if not failed and not raised:
        return None
    rank, pid, host, _ = (raised or failed)[0]
    found = _BAD_TERMINATION.search(output)
    code = (found.group(1) or found.group(2)) if found else None
    how = "raised an exception" if raised else {"9": "was killed (signal 9)", "15": "was terminated (signal 15)", "6": "aborted (signal 6)",
           "11": "crashed (signal 11)"}.get(code, "ended before the job finished")
    return f"deepgrad.distributed: rank {rank} (pid {pid} on {host}) {how}; all {workers} ranks were ended"


def _pump(source, sink, captured: list) -> None:
    for line in source:
        sink.write(line)
        sink.flush()
        captured.append(line)


def run(command: list[str], workers: int, hosts=None, hostfile=None, env=None, timeout=None) -> int:
    """Run ``command`` on ``workers`` ranks and wait; returns the exit code. The output of
    the ranks goes to this process's stdout/stderr; when a rank dies, a last line names it."""
    cmd = mpiexec_command(command, workers, hosts, hostfile)
    with tempfile.TemporaryDirectory(prefix="deepgrad-ranks-") as folder:
        watch = RankWatch(folder)
        environment = dict(os.environ if env is None else env, DEEPGRAD_RANK_SOCKET=watch.path)
        proc = subprocess.Popen(cmd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        captured: list[str] = []
        # both streams passed on as they come (hydra reports a dead rank on stdout), and kept
        pumps = [threading.Thread(target=_pump, args=(source, sink, captured), daemon=True)
                 for source, sink in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr))]
        for pump in pumps:
            pump.start()
        try:
            code = proc.wait(timeout=timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            for pump in pumps:
                pump.join(timeout=5)
        watch.close()
        if code != 0:
            message = failure_message("".join(captured), watch.failed, workers, watch.raised)
            if message:
                print(message, file=sys.stderr)
        return code
