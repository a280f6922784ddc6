"""A PostgreSQL primary and its streaming standby, each in its own namespace,
made with initdb and pg_basebackup in temporary directories and run as the
`postgres` user (the server refuses root)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.sites.net import Lan

BIN = Path(os.environ.get("SOAPSMS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PORT = 5432
USER = "postgres"  # the OS user the servers run as; also the database role
DATABASE = "soapsms"


def missing() -> str | None:
    if not (BIN / "initdb").exists():
        return f"PostgreSQL server binaries not found in {BIN} (SOAPSMS_PG_BIN)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no {USER!r} user to run the PostgreSQL servers as"
    return None


class Server:
    """One cluster: `host` names its namespace, `data` its directory."""

    def __init__(self, lan: Lan, host: str, data: Path) -> None:
        self.lan, self.host, self.data = lan, host, data

    @property
    def address(self) -> str:
        return self.lan.hosts[self.host]

    def run(self, *argv: str, check: bool = True) -> str:
        process = subprocess.Popen(
            self.lan.command(self.host, ["runuser", "-u", USER, "--", *argv]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # not only `ip`: what it ran
            process.communicate()
            raise RuntimeError(f"{argv[0]} did not finish in 120 s") from None
        if check and process.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {err.strip()}")
        return out

    def sql(self, statement: str, database: str = DATABASE) -> str:
        """`statement`'s rows as psql prints them unaligned (-At)."""
        return self.run(
            str(BIN / "psql"),
            "-h", self.address, "-p", str(PORT), "-U", USER, "-d", database,
            "-Atc", statement,
        ).strip()  # fmt: skip

    def start(self) -> None:
        log = self.data / "server.log"
        try:
            self.run(
                str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(log),
                "-w", "-t", "60", "start",
            )  # fmt: skip
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text()[-2000:]}") from None

    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster (its backends go with it)."""
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        if self.pid() is not None:
            self.run(
                str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                "-w", "-t", "30", "stop", check=False,
            )  # fmt: skip
        self.kill()

    def promote(self) -> None:
        self.run(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote")

    def is_primary(self) -> bool:
        return self.sql("SELECT NOT pg_is_in_recovery()", "postgres") == "t"


def _conf(data: Path, address: str, extra: str = "") -> None:
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nlisten_addresses = '{address}'\nport = {PORT}\n"
            "unix_socket_directories = ''\n"
            "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
            "max_connections = 200\nfsync = on\n" + extra
        )


def make_pair(primary: Server, standby: Server, synchronous: bool) -> None:
    """Start `primary` with database `soapsms`, and `standby` streaming from it
    (named `standby`: synchronous_standby_names when `synchronous`)."""
    lan = primary.lan
    primary_host = primary.host
    owner = pwd.getpwnam(USER)
    root = primary.data.parent
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, owner.pw_uid, owner.pw_gid)
    primary.run(
        str(BIN / "initdb"), "-D", str(primary.data), "-U", USER,
        "--auth=trust", "--no-sync", "-E", "UTF8",
    )  # fmt: skip
    _conf(primary.data, primary.address)
    with (primary.data / "pg_hba.conf").open("a") as hba:
        hba.write(
            f"host all all {lan.hosts[primary_host].rsplit('.', 1)[0]}.0/24 trust\n"
            f"host replication all {lan.hosts[primary_host].rsplit('.', 1)[0]}.0/24"
            " trust\n"
        )
    primary.start()
    primary.sql(f"CREATE DATABASE {DATABASE}", "postgres")
    standby.run(
        str(BIN / "pg_basebackup"), "-h", primary.address, "-p", str(PORT),
        "-U", USER, "-D", str(standby.data), "-X", "stream", "-R", "-c", "fast",
        "-d", f"application_name=standby host={primary.address} user={USER}",
    )  # fmt: skip
    # Its own address, the hba as copied; once promoted it has no standby to
    # wait for (a synchronous name copied from the primary would stop commits).
    _conf(standby.data, standby.address, "synchronous_standby_names = ''\n")
    standby.start()
    if synchronous:  # only now: commits would wait for a standby not yet there
        primary.sql(
            "ALTER SYSTEM SET synchronous_standby_names = 'standby'", "postgres"
        )
        primary.sql("SELECT pg_reload_conf()", "postgres")
    deadline = time.monotonic() + 30
    want = "sync" if synchronous else "async"
    while primary.sql("SELECT sync_state FROM pg_stat_replication", "postgres") != want:
        if time.monotonic() > deadline:
            raise RuntimeError("the standby did not start streaming")
        time.sleep(0.2)


def remove(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
