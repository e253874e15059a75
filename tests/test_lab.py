"""`make lab`: JupyterLab opens the chapters as notebooks, through jupytext.

The test runs the Makefile's own recipe (with the running interpreter's
environment standing in for ``.venv``, and nothing installed), headless on a
free port with a token, asks the server's REST API for a chapter, and stops it.
A few seconds; no kernel is started.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "03_fitting_in_pystan.md"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="`make lab` needs make")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """A running `make lab`, spoken to over HTTP."""

    def __init__(self, port: int, token: str, process: subprocess.Popen):
        self.base, self.token, self.process = f"http://127.0.0.1:{port}", token, process

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}


@pytest.fixture(scope="module")
def lab():
    port, token = _free_port(), secrets.token_hex(16)
    # `make lab` as a learner runs it, minus the install step (INSTALLED=) and with this interpreter's
    # environment as the venv, so the test installs nothing and never builds a second .venv.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    lab_args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    if os.geteuid() == 0:  # containers and CI; Jupyter refuses root unless told
        lab_args += " --allow-root"
    command = ["make", "--no-print-directory", "lab", "INSTALLED=", f"VENV={sys.prefix}", f"LAB_ARGS={lab_args}"]
    log = open(ROOT / "_build" / "test_lab.log", "w") if (ROOT / "_build").is_dir() else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Lab(port, token, process)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"`make lab` exited with {process.returncode} before the server answered")
            try:
                server.request("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 90 s")
                time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # make, its shell and the server: one process group
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if log is not subprocess.DEVNULL:
            log.close()


def test_lab_opens_a_chapter_as_a_notebook(lab):
    model = lab.request("GET", f"/api/contents/{CHAPTER}?type=notebook&content=1")
    assert model["type"] == "notebook" and model["format"] == "json"
    cells = model["content"]["cells"]
    on_disk = jupytext.read(ROOT / "chapters" / CHAPTER)
    expected = [cell.source for cell in on_disk.cells if cell.cell_type == "code"]
    assert len(expected) > 3
    assert [cell["source"] for cell in cells if cell["cell_type"] == "code"] == expected
    assert model["content"]["metadata"]["kernelspec"]["name"] == "python3"


def test_lab_serves_from_the_chapters_folder(lab):
    listing = lab.request("GET", "/api/contents?content=1")
    names = {item["name"]: item["type"] for item in listing["content"]}
    assert names[CHAPTER] == "notebook", "jupytext lists the chapters as notebooks"
    assert "Makefile" not in names, "the server's root is chapters/, not the repository"


def test_lab_opens_markdown_as_a_notebook_by_default(lab):
    settings = lab.request("GET", "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    defaults = settings["schema"]["properties"]["defaultViewers"]["default"]
    assert defaults["markdown"] == "Jupytext Notebook"


def test_lab_saves_a_notebook_back_to_markdown(lab):
    """An edit saved from the notebook view lands in the .md file as MyST Markdown, without outputs."""
    notebook = lab.request("GET", f"/api/contents/{CHAPTER}?type=notebook&content=1")["content"]
    first_code = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    first_code["source"] += "\nedited_in_lab = True"
    first_code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "NOT SAVED\n"}]
    copy = f"lab_test_copy_{secrets.token_hex(4)}.md"
    try:
        lab.request("PUT", f"/api/contents/{copy}", {"type": "notebook", "format": "json", "content": notebook})
        text = (ROOT / "chapters" / copy).read_text()
    finally:
        (ROOT / "chapters" / copy).unlink(missing_ok=True)
    assert text.startswith("---\njupytext:") and "format_name: myst" in text
    assert "```{code-cell} ipython3" in text and "edited_in_lab = True" in text
    assert "NOT SAVED" not in text, "text notebooks keep no outputs"
