"""A local Apache Flink cluster for pristine's FlinkRunner test: fetch, start, stop, status.

    python infra/flink/cluster.py up        # fetch what is missing, then start (a no-op when running)
    python infra/flink/cluster.py stop      # stop the JobManager and TaskManager this script started
    python infra/flink/cluster.py status
    python infra/flink/cluster.py fetch     # downloads only

Everything lives under .cache/flink/ in the repository (gitignored):

- the Flink distribution, from PyPI (no Flink tarball is served by the registries this project may use):
  the `apache-flink` wheel holds bin/ and conf/, the `apache-flink-libraries` sdist holds lib/, opt/ and
  plugins/ (flink-dist and friends). Both are only unpacked: they pin an old apache-beam, so they are never
  installed into the project's venv.
- Beam's Flink job server, `org.apache.beam:beam-runners-flink-<flink minor>-job-server:<installed Beam>`,
  fetched with Maven from Maven Central into a repository-local Maven cache. FLINK_JOB_SERVER_JAR=/path.jar
  uses a jar obtained elsewhere instead.

The cluster binds 127.0.0.1 only, on ports the OS reports free at start; its processes are started and
stopped by Flink's own daemon scripts through PID files in .cache/flink/run/ (never by name).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from contextlib import closing
from pathlib import Path

import yaml

FLINK_VERSION = "1.20.3"  # Beam 2.77 supports Flink 1.19, 1.20, 2.0, 2.1 and 2.2
FLINK_MINOR = ".".join(FLINK_VERSION.split(".")[:2])
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "flink"
FLINK_HOME = CACHE / f"flink-{FLINK_VERSION}"
DOWNLOADS = CACHE / "downloads"
JARS = CACHE / "jars"
RUN = CACHE / "run"
STATE = RUN / "cluster.json"


def beam_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("apache-beam")


def job_server_coordinates() -> str:
    return f"org.apache.beam:beam-runners-flink-{FLINK_MINOR}-job-server:{beam_version()}"


def job_server_jar_path() -> Path:
    return JARS / f"beam-runners-flink-{FLINK_MINOR}-job-server-{beam_version()}.jar"


def log(msg: str) -> None:
    print(f"[flink] {msg}", flush=True)


# ---------------------------------------------------------------- fetching


def fetch_distribution() -> Path:
    """Assemble FLINK_HOME from the two PyPI packages (idempotent)."""
    marker = FLINK_HOME / ".complete"
    if marker.exists():
        return FLINK_HOME
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(DOWNLOADS)]
    log(
        f"downloading apache-flink=={FLINK_VERSION} (bin/, conf/) and apache-flink-libraries (lib/) from PyPI"
    )
    subprocess.run(
        [
            *pip,
            "--only-binary=:all:",
            "--python-version=3.11",
            "--platform=manylinux2014_x86_64",
            f"apache-flink=={FLINK_VERSION}",
        ],
        check=True,
    )
    subprocess.run([*pip, "--no-build-isolation", f"apache-flink-libraries=={FLINK_VERSION}"], check=True)
    wheel = next(DOWNLOADS.glob(f"apache_flink-{FLINK_VERSION}-*.whl"))
    sdist = DOWNLOADS / f"apache-flink-libraries-{FLINK_VERSION}.tar.gz"

    shutil.rmtree(FLINK_HOME, ignore_errors=True)
    FLINK_HOME.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            top, _, rest = name.partition("/")
            sub = rest.split("/", 1)[0]
            if top == "pyflink" and sub in ("bin", "conf") and not name.endswith("/"):
                target = FLINK_HOME / rest
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(name))
    with tarfile.open(sdist) as tf:
        prefix = f"apache-flink-libraries-{FLINK_VERSION}/"
        for member in tf.getmembers():
            rest = member.name.removeprefix(prefix)
            if member.isfile() and (rest.startswith("deps/") or rest in ("LICENSE", "NOTICE")):
                target = FLINK_HOME / rest.removeprefix("deps/")
                target.parent.mkdir(parents=True, exist_ok=True)
                with tf.extractfile(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    for script in (FLINK_HOME / "bin").iterdir():
        script.chmod(0o755)
    if not (FLINK_HOME / "lib" / f"flink-dist-{FLINK_VERSION}.jar").exists():
        raise SystemExit(
            f"flink-dist-{FLINK_VERSION}.jar missing from apache-flink-libraries=={FLINK_VERSION}"
        )
    shutil.rmtree(DOWNLOADS)
    marker.touch()
    log(f"Flink {FLINK_VERSION} assembled in {FLINK_HOME} ({time.monotonic() - started:.0f} s)")
    return FLINK_HOME


def fetch_job_server() -> Path | None:
    """The Beam Flink job server jar matching the installed Beam, with Maven; None when it is not served."""
    jar = job_server_jar_path()
    if jar.exists():
        return jar
    override = os.environ.get("FLINK_JOB_SERVER_JAR")
    if override:
        JARS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(override, jar)
        return jar
    if not shutil.which("mvn"):
        log("mvn not found: cannot fetch the Beam Flink job server")
        return None
    coordinates = job_server_coordinates()
    log(f"fetching {coordinates} with Maven")
    started = time.monotonic()
    result = subprocess.run(
        [
            "mvn",
            "--batch-mode",
            "--quiet",
            "--update-snapshots",  # -U: ask Central again instead of trusting a cached "not found"
            f"-Dmaven.repo.local={CACHE / 'm2'}",
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={coordinates}:jar",
            f"-DoutputDirectory={JARS}",
            "-Dtransitive=false",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not jar.exists():
        reason = next((line for line in result.stdout.splitlines() if "ERROR" in line), result.stdout[-500:])
        log(f"NOT SERVED: {coordinates} ({time.monotonic() - started:.0f} s)\n  {reason.strip()}")
        return None
    log(f"job server: {jar} ({time.monotonic() - started:.0f} s)")
    return jar


# ---------------------------------------------------------------- the cluster


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_key(config: dict, dotted: str, value) -> None:
    """Set a Flink option in the nested form of Flink's standard config.yaml."""
    node = config
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def write_config(ports: dict[str, int]) -> Path:
    conf_dir = RUN / "conf"
    shutil.rmtree(conf_dir, ignore_errors=True)
    shutil.copytree(FLINK_HOME / "conf", conf_dir)
    config = yaml.safe_load((conf_dir / "config.yaml").read_text()) or {}
    for key, value in {
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": ports["rpc"],
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": ports["rest"],
        "blob.server.port": str(ports["blob"]),
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "taskmanager.rpc.port": str(ports["tm_rpc"]),
        "taskmanager.data.port": ports["tm_data"],
        "taskmanager.numberOfTaskSlots": 2,
        "parallelism.default": 2,
        "env.pid.dir": str(RUN),
        "env.log.dir": str(RUN / "log"),
        "io.tmp.dirs": str(RUN / "tmp"),
        "web.tmpdir": str(RUN / "tmp"),
    }.items():
        set_key(config, key, value)
    (conf_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (conf_dir / "masters").write_text(f"127.0.0.1:{ports['rest']}\n")
    (conf_dir / "workers").write_text("127.0.0.1\n")
    return conf_dir


def overview(rest_port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/overview", timeout=2) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def read_state() -> dict | None:
    return json.loads(STATE.read_text()) if STATE.exists() else None


def running() -> dict | None:
    state = read_state()
    if state and (info := overview(state["rest_port"])) and info.get("taskmanagers", 0) >= 1:
        return state
    return None


def daemon(script: str, action: str, conf_dir: Path) -> None:
    env = {**os.environ, "FLINK_CONF_DIR": str(conf_dir), "FLINK_PID_DIR": str(RUN)}
    subprocess.run([str(FLINK_HOME / "bin" / script), action], env=env, check=True, cwd=RUN)


def start(jar: Path | None) -> dict:
    if state := running():
        log(f"already running: http://127.0.0.1:{state['rest_port']}")
        return state
    stop(quiet=True)  # a half-started or dead cluster from before
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        raise SystemExit("java not found: Flink needs Java 11 or 17 (JAVA_HOME or java on the PATH)")
    for sub in ("log", "tmp"):
        (RUN / sub).mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("rest", "rpc", "blob", "tm_rpc", "tm_data")}
    conf_dir = write_config(ports)
    started = time.monotonic()
    daemon("jobmanager.sh", "start", conf_dir)
    daemon("taskmanager.sh", "start", conf_dir)
    state = {
        "rest_port": ports["rest"],
        "flink_version": FLINK_VERSION,
        "flink_minor": FLINK_MINOR,
        "flink_home": str(FLINK_HOME),
        "conf_dir": str(conf_dir),
        "job_server_jar": str(jar) if jar else None,
        "job_server_coordinates": job_server_coordinates(),
    }
    STATE.write_text(json.dumps(state, indent=2))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = overview(ports["rest"])
        if info and info.get("taskmanagers", 0) >= 1:
            log(
                f"Flink {info.get('flink-version')} up in {time.monotonic() - started:.0f} s: "
                f"http://127.0.0.1:{ports['rest']} ({info['taskmanagers']} TaskManager, "
                f"{info.get('slots-total')} slots)"
            )
            return state
        time.sleep(1)
    logs = "\n".join(str(p) for p in (RUN / "log").glob("*.log"))
    stop(quiet=True)
    raise SystemExit(f"Flink did not come up within 120 s; logs:\n{logs}")


DAEMONS = {"taskmanager.sh": "taskexecutor", "jobmanager.sh": "standalonesession"}


def pids_of(daemon_name: str) -> list[int]:
    pids = []
    for pid_file in RUN.glob(f"flink-*-{daemon_name}.pid"):
        pids += [int(line) for line in pid_file.read_text().split() if line.isdigit()]
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def stop(quiet: bool = False) -> None:
    """Stop the TaskManager, then the JobManager, by the PIDs in their PID files (SIGKILL after 20 s)."""
    conf_dir = RUN / "conf"
    stopped = []
    for script, daemon_name in DAEMONS.items():
        pids = pids_of(daemon_name)
        if not pids:
            continue
        if FLINK_HOME.exists() and conf_dir.exists():
            daemon(script, "stop-all", conf_dir)
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for pid_file in RUN.glob(f"flink-*-{daemon_name}.pid"):
            pid_file.unlink()
        stopped += pids
    STATE.unlink(missing_ok=True)
    if not quiet:
        log(f"stopped (pids {', '.join(map(str, stopped))})" if stopped else "not running")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "fetch", "start", "stop", "status"))
    parser.add_argument(
        "--without-job-server",
        action="store_true",
        help="start the cluster even when the Beam job server jar is not available",
    )
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop()
        return 0
    if args.command == "status":
        state = running()
        print(json.dumps(state, indent=2) if state else "not running")
        return 0 if state else 1
    started = time.monotonic()
    fetch_distribution()
    jar = fetch_job_server()
    if args.command == "fetch":
        return 0 if jar else 3
    if jar is None and not args.without_job_server:
        log(
            f"cannot run Beam pipelines on Flink without {job_server_coordinates()}; the cluster was not "
            "started (FLINK_JOB_SERVER_JAR=/path/to.jar to use a jar obtained elsewhere, "
            "--without-job-server to start Flink alone)"
        )
        return 3
    start(jar)
    log(f"ready in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
