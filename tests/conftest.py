import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so CI passes or fails on the code alone;
# HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    """The shared real-data folder ($ASTROFLOW_DATA, else ../shared/data); skips when absent."""
    path = Path(os.environ.get("ASTROFLOW_DATA", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent (set ASTROFLOW_DATA)")
    return path


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Fail loudly if a test tries to reach a host other than this machine."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in LOCAL_HOSTS:
            raise RuntimeError(f"test tried to reach the internet: {address}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOCAL_HOSTS:
            raise RuntimeError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.delenv("ASTROFLOW_OFFLINE", raising=False)


BIN = Path(sys.executable).parent
PROJECT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@localhost", "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1",
               "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def run(*cmd: str, cwd: Path, stdout_only: bool = False) -> str:
    """The command's output (stdout then stderr, or stdout alone, e.g. to parse JSON); it must succeed."""
    proc = subprocess.run(cmd, cwd=cwd, env=PROJECT_ENV, capture_output=True, text=True, timeout=2400, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout if stdout_only else proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def ci_project(tmp_path_factory) -> Path:
    """The one end-to-end run the workflow, DVC and report tests share, as a user runs it: a copy of the project's
    tracked files as a git repository with a local DVC remote and the project's environment as .venv, the whole
    workflow on config/ci.yaml (`make run`), then `dvc repro` (its output in dvc_repro.log, for the DVC test)."""
    repo = tmp_path_factory.mktemp("project") / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, repo / f)
    ci_config(repo)
    run("git", "init", "-q", cwd=repo)
    run("dvc", "remote", "add", "-d", "local", str(repo.parent / "remote"), cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "project", cwd=repo)
    run(str(BIN / "snakemake"), "--cores", "2", "--configfile", "config/ci.yaml", cwd=repo)
    (repo.parent / "dvc_repro.log").write_text(run("dvc", "repro", cwd=repo))
    return repo


def ci_config(repo: Path) -> None:
    """Point a project copy's DVC stages at config/ci.yaml and give it the running environment as .venv."""
    dvc_yaml = (repo / "dvc.yaml").read_text()
    (repo / "dvc.yaml").write_text(dvc_yaml.replace("configfile: config/config.yaml", "configfile: config/ci.yaml")
                                   .replace("dataset: sim", "dataset: ci")
                                   .replace("spectra: specsim", "spectra: specci"))
    if not (repo / ".venv").exists():
        (repo / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)


@pytest.fixture(scope="session")
def ci_report(ci_project) -> Path:
    """`snakemake --report` of the shared run: the self-contained HTML report."""
    out = ci_project.parent / "report.html"
    run(str(BIN / "snakemake"), "--cores", "1", "--configfile", "config/ci.yaml", "--report", str(out),
        cwd=ci_project)
    return out
