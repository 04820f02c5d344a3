"""Run commands on a host through the system OpenSSH client.

Using the `ssh` binary means the user's ~/.ssh/config, agent, ProxyJump and known_hosts work as
they expect. On top of the user's configuration sparkpilot sets only:
  BatchMode=yes        never a password or host-key prompt, never a hang
  ConnectTimeout       a host that does not answer fails in seconds
  ControlMaster=auto   one connection per host, shared by every command (ControlPath in a
  ControlPersist       private temporary directory; the master lingers a few seconds only)
Host keys are checked as the user's configuration says (StrictHostKeyChecking is never turned
off): an unknown or changed key is a TransportError that says how to accept it.

Every command has a timeout: the ssh process is killed. If the connection is still alive the
command is a CommandResult with rc 124 (the host answers, the command did not); if not, the host
stopped answering: TransportError. ssh's own exit 255 with the connection gone is a
TransportError with ssh's reason in one line.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence

from sparkpilot.errors import TransportError
from sparkpilot.transport import base
from sparkpilot.transport.base import CommandResult, LineStream, Runner
from sparkpilot.transport.hosts import HostSpec, parse_host_spec
from sparkpilot.transport.local import RC_TIMEOUT, ProcessStream, kill_group, run_process, run_process_bytes

SSH_CONFIG_ENV = "SPARKPILOT_SSH_CONFIG"  # an ssh_config file to use instead of ~/.ssh/config
CONTROL_PERSIST = 15  # seconds an idle shared connection stays open after the last command
RC_SSH = 255
MAX_SESSIONS = 8  # commands at once over one connection (sshd's MaxSessions defaults to 10)

_live: "weakref.WeakSet[SshRunner]" = weakref.WeakSet()
_dirs: set[str] = set()  # control directories still to remove


# the remote side of `stream`: the command runs with our stdin held open; when it reaches
# end-of-file (stop(), or this side gone) the command is sent SIGTERM
STREAM = ('exec 3<&0; "$@" </dev/null 2>&1 & p=$!; { read -r _ <&3; kill "$p" 2>/dev/null; } & w=$!; '
          'wait "$p"; r=$?; kill "$w" 2>/dev/null; exit "$r"')
# the remote side of `put`: written whole under a temporary name, then renamed into place
WRITE = 't=$(mktemp "$1.XXXXXX") && cat >"$t" && chmod "$2" "$t" && mv -f "$t" "$1" || { rm -f "$t"; exit 1; }'


def close_all(runners: Sequence[Runner]) -> None:
    """Close many runners at once: their masters are asked to exit side by side, not one by one."""
    base.close_all(runners)


def _close_all() -> None:
    close_all(list(_live))
    for path in list(_dirs):
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_close_all)


def ssh_reason(stderr: str, spec: HostSpec) -> str:
    """ssh's complaint on stderr, as one line that says what to do."""
    lines = [ln.strip() for ln in stderr.replace("\r", "\n").splitlines() if ln.strip()]
    text = " ".join(lines)
    host = spec.host
    keyscan = f"ssh-keyscan {'-p %d ' % spec.port if spec.port else ''}{host} >> ~/.ssh/known_hosts"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or ("Host key for" in text and "has changed" in text):
        return (f"the host key of {host} has CHANGED (a reinstalled host, or someone in between); "
                f"if you expect it, remove the old key with `ssh-keygen -R {host}` and connect once with ssh")
    if "Host key verification failed" in text or "host key is known" in text:
        return (f"the host key of {host} is not known: check it and accept it by connecting once with "
                f"`ssh {spec.destination}{' -p %d' % spec.port if spec.port else ''}` "
                f"or add it with `{keyscan}`")
    if "Permission denied" in text:
        detail = next((ln for ln in lines if "Permission denied" in ln), "Permission denied")
        detail = detail[detail.index("Permission denied"):].rstrip(".")  # without "user@host: "
        return (f"authentication failed ({detail}): check the user name "
                f"(`user@host`) and that your key is authorized there and loaded (ssh-add)")
    for needle in ("Connection refused", "No route to host", "Connection timed out",
                   "Network is unreachable", "Could not resolve hostname",
                   "Name or service not known", "Connection closed", "Connection reset",
                   "Operation timed out", "Broken pipe", "Too many authentication failures"):
        for ln in lines:
            if needle in ln:
                return ln.removeprefix("ssh: ")
    if lines:
        return lines[-1].removeprefix("ssh: ")
    return "ssh exited with 255 and no message"


class SshRunner(Runner):
    """Runs argv on one host over ssh; the argv is quoted for the remote shell (shlex.join)."""

    def __init__(self, spec: str, *, connect_timeout: float = 10.0, ssh_config: str | None = None,
                 options: Sequence[str] = (), ssh_binary: str = "ssh"):
        self.spec = parse_host_spec(spec)
        self.name = spec.strip()
        self.connect_timeout = max(1, round(connect_timeout))
        self.ssh_config = ssh_config or os.environ.get(SSH_CONFIG_ENV) or None
        self.options = list(options)
        self.ssh_binary = ssh_binary
        self._dir: str | None = None
        self._lock = threading.Lock()
        self._sessions = threading.BoundedSemaphore(MAX_SESSIONS)
        self._connected = False
        self._closed = False
        # set by expect_single_command (doctor when the pings rode along): the first run_many then
        # goes on a connection of its own; later commands share one as usual
        self.one_shot_first = False
        _live.add(self)

    # -- the ssh command line -------------------------------------------------------------
    def _control_path(self) -> str:
        if self._dir is None:
            base = "/tmp" if len(tempfile.gettempdir()) > 40 else None  # sockets: 108 bytes max
            self._dir = tempfile.mkdtemp(prefix="sparkpilot-ssh-", dir=base)  # mode 0700
            _dirs.add(self._dir)
        return os.path.join(self._dir, "%C")

    def ssh_argv(self, *extra: str, command: str | None = None, shared: bool = True) -> list[str]:
        argv = [self.ssh_binary]
        if self.ssh_config:
            argv += ["-F", self.ssh_config]
        argv += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}"]
        if shared:
            argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self._control_path()}",
                     "-o", f"ControlPersist={CONTROL_PERSIST}"]
        else:   # a connection of its own, gone with the command
            argv += ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
        argv += ["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
                 "-o", "LogLevel=ERROR"]
        for opt in self.options:
            argv += ["-o", opt]
        if self.spec.port:
            argv += ["-p", str(self.spec.port)]
        argv += list(extra) + ["--", self.spec.destination]
        return argv + [command] if command is not None else argv

    def _fail(self, reason: str) -> TransportError:
        return TransportError(f"{self.name}: {reason}")

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the shared connection (once); TransportError when the host does not answer."""
        with self._lock:
            if self._closed:
                raise self._fail("connection already closed")
            if self._connected:
                return
            limit = self.connect_timeout * 2 + 5
            try:
                rc, _out, err, _s = run_process(self.ssh_argv("-T", command="true"), limit)
            except FileNotFoundError:
                raise self._fail("the OpenSSH client `ssh` is not installed") from None
            if rc is None:
                reason = f"no answer within {limit}s"
            elif rc == RC_SSH:
                reason = ssh_reason(err, self.spec)
            elif rc != 0:  # the login shell itself failed (e.g. an account without a shell)
                reason = f"`true` failed with exit {rc}: {(err.strip().splitlines() or [''])[-1]}"
            else:
                self._connected = True
                return
            self._remove_dir()
            raise self._fail(reason)

    def _remove_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            _dirs.discard(self._dir)
            self._dir = None

    def master_pid(self) -> int | None:
        """The pid of the shared connection's master (`ssh -O check`), or None when there is none."""
        if self._dir is None:
            return None
        rc, _out, err, _s = run_process(self.ssh_argv("-O", "check"), 5)
        m = re.search(r"pid=(\d+)", err)
        return int(m.group(1)) if rc == 0 and m else None

    def alive(self) -> bool:
        """Whether the shared connection is still up (a local check, no network round trip)."""
        if self._dir is None:
            return False
        rc, *_ = run_process(self.ssh_argv("-O", "check"), 5)
        return rc == 0

    # -- commands ---------------------------------------------------------------------------
    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("empty argv")
        start = time.monotonic()
        self.connect()
        remote = shlex.join(argv)
        with self._sessions:
            rc, out, err, _s = run_process(self.ssh_argv("-T", command=remote), timeout)
        seconds = time.monotonic() - start
        if rc is None:
            if self.alive():
                note = f"sparkpilot: `{argv[0]}` timed out after {timeout:g}s on {self.name}\n"
                return CommandResult(RC_TIMEOUT, out, err + note, seconds)
            self._connected = False
            raise self._fail(f"stopped answering (`{argv[0]}` got no reply within {timeout:g}s)")
        if rc == RC_SSH and not self.alive():
            self._connected = False
            raise self._fail(ssh_reason(err, self.spec))
        return CommandResult(rc, out, err, seconds)

    def expect_single_command(self) -> None:
        with self._lock:
            if not self._connected:
                self.one_shot_first = True

    def run_many(self, argvs: Sequence[Sequence[str]], timeout: float = 10.0,
                 workers: int = 8) -> list[CommandResult]:
        """Every argv at once in one ssh session (transport/batch.py); results in order.

        Each command has `timeout` (rc 124 when it runs over); commands whose result did not come
        back (a host without mktemp, a broken frame) are run again one by one with `run`. When
        there is no shared connection yet, this very session opens it (one ssh process and one
        round trip fewer than `connect` first); other commands on this host wait until it is done."""
        from sparkpilot.transport import batch

        return batch.run_script(self, argvs, timeout, self._run_bytes)

    def _run_bytes(self, argv: Sequence[str], limit: float) -> tuple[int | None, bytes, bytes]:
        """Run argv on the host (quoted for its shell), output as bytes; TransportError when the
        host does not answer."""
        remote = shlex.join(argv)
        with self._lock:
            if self._closed:
                raise self._fail("connection already closed")
            alone, self.one_shot_first = self.one_shot_first and not self._connected, False
            if not self._connected and not alone:   # open the shared connection with this command
                return self._connect_with(remote, max(limit, self.connect_timeout * 2 + 5))
        if alone:
            return self._run_alone(remote, max(limit, self.connect_timeout * 2 + 5))
        with self._sessions:
            rc, out, err, _s = run_process_bytes(self.ssh_argv("-T", command=remote), limit)
        if rc is None or rc == RC_SSH:
            if not self.alive():
                self._connected = False
                raise self._fail(ssh_reason(err.decode("utf-8", "replace"), self.spec) if rc else
                                 f"stopped answering (no reply within {limit:g}s)")
        return rc, out, err

    def _run_alone(self, remote: str, limit: float) -> tuple[int | None, bytes, bytes]:
        """The command on a connection of its own (no master to start, ask and stop afterwards).
        Without a master there is no asking whether the host still answers: exit 255 or no end
        within `limit` (the batch's own watchdog ends it well before) is a TransportError."""
        try:
            rc, out, err, _s = run_process_bytes(self.ssh_argv("-T", command=remote, shared=False), limit)
        except FileNotFoundError:
            raise self._fail("the OpenSSH client `ssh` is not installed") from None
        if rc is None:
            raise self._fail(f"stopped answering (no reply within {limit:g}s)")
        if rc == RC_SSH:
            raise self._fail(ssh_reason(err.decode("utf-8", "replace"), self.spec))
        return rc, out, err

    def _connect_with(self, remote: str, limit: float) -> tuple[int | None, bytes, bytes]:
        """The first command of this runner, which opens the shared connection (holding _lock)."""
        try:
            rc, out, err, _s = run_process_bytes(self.ssh_argv("-T", command=remote), limit)
        except FileNotFoundError:
            raise self._fail("the OpenSSH client `ssh` is not installed") from None
        if (rc is not None and rc != RC_SSH) or self.alive():
            self._connected = True
            return rc, out, err
        reason = f"no answer within {limit:g}s" if rc is None else \
            ssh_reason(err.decode("utf-8", "replace"), self.spec)
        self._remove_dir()
        raise self._fail(reason)

    def stream(self, argv: Sequence[str]) -> LineStream:
        """The command's lines over the shared connection; stop() closes its stdin, and the
        remote side then ends the command (SIGTERM)."""
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("empty argv")
        self.connect()
        remote = shlex.join(["sh", "-c", STREAM, "sh", *argv])
        return ProcessStream(self.ssh_argv("-T", command=remote), hold_stdin=True)

    def read_bytes(self, remote: str) -> bytes:
        self.connect()
        rc, out, err, _s = run_process_bytes(self.ssh_argv("-T", command=shlex.join(["cat", "--", remote])), 120)
        if rc != 0:
            text = err.decode("utf-8", "replace")
            if rc in (None, RC_SSH) and not self.alive():
                raise self._fail(ssh_reason(text, self.spec) if rc else "stopped answering")
            raise self._fail(f"cannot read {remote}: {(text.strip().splitlines() or [f'exit {rc}'])[0]}")
        return out

    def write_bytes(self, remote: str, data: bytes, mode: int | None = None) -> None:
        self.connect()
        cmd = shlex.join(["sh", "-c", WRITE, "sh", remote, format(mode if mode is not None else 0o644, "o")])
        rc, _out, err, _s = run_process_bytes(self.ssh_argv("-T", command=cmd), 120, data=data)
        if rc != 0:
            text = err.decode("utf-8", "replace")
            if rc in (None, RC_SSH) and not self.alive():
                raise self._fail(ssh_reason(text, self.spec) if rc else "stopped answering")
            raise self._fail(f"cannot write {remote}: {(text.strip().splitlines() or [f'exit {rc}'])[0]}")

    def close(self) -> None:
        close_all([self])

    def begin_close(self) -> Callable[[], None]:
        proc = self._begin_close()
        return lambda: self._end_close(proc)

    def _begin_close(self) -> subprocess.Popen[bytes] | None:
        """Mark closed and ask the master to exit; the `ssh -O exit` process (or None) to wait for."""
        with self._lock:
            if self._closed:
                return None
            self._closed = True
            proc = None
            if self._dir is not None and self._connected:
                try:
                    proc = subprocess.Popen(self.ssh_argv("-O", "exit"), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True)
                except OSError:
                    proc = None
            self._connected = False
            return proc

    def _end_close(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # a master that does not answer: stop waiting for it
                kill_group(proc)
                proc.wait()
        with self._lock:
            self._remove_dir()
