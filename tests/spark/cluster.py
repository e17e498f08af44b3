"""A real Spark standalone cluster for the Spark test tier, started from the pyspark wheel.

The wheel has no `sbin/start-*.sh`, so each daemon is run in the foreground with `bin/spark-class`
(master, workers) or `bin/spark-submit` (the Thrift server, a Spark application of the cluster),
every one in its own process group so that `stop()` ends it and its children. Everything binds
127.0.0.1 on free ports; the warehouse folder, the Derby metastore, the workers' folders and the
logs live under the folder given (a pytest tmp_path).

    with SparkCluster(tmp_path, workers=2) as cluster:
        cluster.thrift_port          # HiveServer2 (dbt-spark `method: thrift`)

Java (17+) must be on PATH or under JAVA_HOME; `JavaMissing` says so otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent
READY_TIMEOUT = 240  # seconds per daemon on a busy 2-core machine (the Thrift server: ~20 s idle)
STOP_TIMEOUT = 15


class JavaMissing(RuntimeError):
    """No `java` to run Spark with."""


class ClusterError(RuntimeError):
    """A daemon exited or did not come up in time (the message carries its log's tail)."""


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise JavaMissing("java not found (neither JAVA_HOME nor PATH): the Spark tier needs Java 17+")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class SparkCluster:
    def __init__(self, folder: Path, workers: int = 2, worker_memory: str = "1g", worker_cores: int = 1) -> None:
        self.folder = Path(folder)
        self.workers = workers
        self.worker_memory = worker_memory
        self.worker_cores = worker_cores
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []
        self.master_port = self.master_ui_port = self.thrift_port = 0
        self.warehouse = self.folder / "warehouse"
        self.metastore = self.folder / "metastore_db"

    # ------------------------------------------------------------------ environment

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOCAL_HOSTNAME": "localhost",
            "SPARK_LOG_DIR": str(self.folder / "logs"),
            "SPARK_WORKER_DIR": str(self.folder / "work"),
            "SPARK_CONF_DIR": str(self.folder / "conf"),
            "SPARK_NO_DAEMONIZE": "1",
            "SPARK_DAEMON_MEMORY": "512m",
        }
        javabin = Path(java()).resolve().parent
        env["JAVA_HOME"] = str(javabin.parent)
        env["PATH"] = f"{javabin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.folder / "logs" / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                args,
                cwd=self.folder,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the JVM and its launcher
            )
        self.procs.append((name, proc, log))
        return proc

    def _wait(self, name: str, proc: subprocess.Popen, log: Path, ready, deadline: float) -> None:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ClusterError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
            if ready():
                return
            time.sleep(0.5)
        raise ClusterError(f"{name} not ready after {READY_TIMEOUT} s:\n{_tail(log)}")

    # ------------------------------------------------------------------ start / stop

    def start(self) -> SparkCluster:
        java()
        for sub in ("logs", "work", "conf", "warehouse"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        (self.folder / "conf" / "log4j2.properties").write_text(LOG4J)
        spark_class = str(SPARK_HOME / "bin" / "spark-class")
        try:
            self.master_port, self.master_ui_port = free_port(), free_port()
            master = self._spawn(
                "master",
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(self.master_port), "--webui-port", str(self.master_ui_port)],
            )  # fmt: skip
            self._wait("master", master, self.procs[-1][2], lambda: _listening(self.master_port), _deadline())
            for n in range(self.workers):
                self._spawn(
                    f"worker{n + 1}",
                    [spark_class, "org.apache.spark.deploy.worker.Worker", self.master_url,
                     "--host", "127.0.0.1", "--port", str(free_port()), "--webui-port", str(free_port()),
                     "--cores", str(self.worker_cores), "--memory", self.worker_memory,
                     "--work-dir", str(self.folder / "work" / f"worker{n + 1}")],
                )  # fmt: skip
            for name, proc, log in self.procs[1:]:
                self._wait(
                    name,
                    proc,
                    log,
                    lambda log=log: "Successfully registered with master" in log.read_text(errors="replace"),
                    _deadline(),
                )
            self.thrift_port = free_port()
            thrift = self._spawn("thrift", self.thrift_command())
            self._wait("thrift", thrift, self.procs[-1][2], lambda: _listening(self.thrift_port), _deadline())
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    def spark_conf(self) -> dict[str, str]:
        """What every application of the cluster (the Thrift server, a session) is given."""
        return {
            "spark.master": self.master_url,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.memory": "1g",
            "spark.executor.memory": "768m",
            "spark.cores.max": str(self.workers * self.worker_cores),
            "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.warehouse.dir": str(self.warehouse),
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.catalogImplementation": "hive",
            # the journeys are an external table in the lake (lake_location), rebuilt in place
            "spark.sql.legacy.allowNonEmptyLocationInCTAS": "true",
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={self.metastore};create=true",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.folder}",
        }

    def thrift_command(self) -> list[str]:
        args = [
            str(SPARK_HOME / "bin" / "spark-submit"),
            "--class",
            "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        ]
        for key, value in self.spark_conf().items():
            args += ["--conf", f"{key}={value}"]
        args += [
            "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
            "--hiveconf", f"hive.server2.thrift.port={self.thrift_port}",
            "--hiveconf", "hive.server2.transport.mode=binary",
            "--hiveconf", "hive.server2.authentication=NOSASL",
            "--hiveconf", "hive.server2.enable.doAs=false",
            "spark-internal",
        ]  # fmt: skip
        return args

    def stop(self) -> None:
        """SIGTERM every process group started (newest first), SIGKILL what is left after STOP_TIMEOUT."""
        for _name, proc, _log in reversed(self.procs):
            _signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for _name, proc, _log in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal(proc, signal.SIGKILL)  # the group's stragglers too (a JVM's launcher shell)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    def master_state(self) -> dict:
        """The master's own view (its web UI's /json/): workers, applications, cores in use."""
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.master_ui_port}/json/", timeout=10) as response:
            return json.load(response)

    def alive(self) -> list[str]:
        return [name for name, proc, _log in self.procs if proc.poll() is None]

    def __enter__(self) -> SparkCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the child's pid
    except (ProcessLookupError, PermissionError):
        pass


def _deadline() -> float:
    return time.monotonic() + READY_TIMEOUT


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# warnings and errors only: Spark's INFO lines run to thousands per build
LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n
logger.master.name = org.apache.spark.deploy
logger.master.level = info
logger.thrift.name = org.apache.spark.sql.hive.thriftserver
logger.thrift.level = info
"""
