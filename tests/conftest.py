import glob, os, secrets, shutil, socket, subprocess, sys, time, urllib.request, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

@pytest.fixture(scope="session")
def root(): return ROOT

@pytest.fixture(scope="session")
def hnn():
    "Path of the installed `hnn` command (in the same environment as pytest)."
    p = BIN/"hnn"
    if not p.exists(): pytest.fail(f"the hnn command is not installed in {BIN}; run `make setup`")
    return str(p)

class Browser:
    "Headless Debian Chromium, as a person would open a page: screenshots and the DOM after the page's scripts ran."
    def __init__(self, exe, profile):
        self.flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
                      f"--user-data-dir={profile}"]

    def screenshot(self, url, path, size="1280,2000", budget=None):
        "Save a PNG of `url`; fail unless it is a real, non-blank picture."
        import subprocess
        import numpy as np
        from PIL import Image
        extra = [f"--virtual-time-budget={budget}"] if budget else []
        r = subprocess.run(self.flags + extra + [f"--screenshot={path}", f"--window-size={size}", url], capture_output=True, text=True, timeout=180)
        assert Path(path).exists(), r.stderr[-2000:]
        img = np.asarray(Image.open(path).convert("L"), float)
        assert img.std() > 10 and (img < 128).mean() > 0.01, f"the screenshot {path} is blank"
        return path

    def dom(self, url, budget=10000) -> str:
        import subprocess
        return subprocess.run(self.flags + [f"--virtual-time-budget={budget}", "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout

    @staticmethod
    def probe_dom(dom:str) -> dict:
        "The value the probe script (`probed_copy`) wrote into the dumped DOM."
        import html as html_mod, json, re
        m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
        assert m, "the probe did not run: " + dom[-1500:]
        return json.loads(html_mod.unescape(m.group(1)))

PROBE = """<script>window.addEventListener('load', () => setTimeout(() => {{
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify({js}); document.body.appendChild(pre);
}}, {delay}));</script></body>"""

def probed_copy(page:Path, js:str, delay:int=0) -> Path:
    "A copy of an HTML page, beside it, with a script that writes `js`'s value into the DOM once the page loaded."
    probe = page.with_name(f".probe-{page.name}")
    probe.write_text(page.read_text().replace("</body>", PROBE.format(js=js, delay=delay), 1))
    return probe

@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    import shutil
    exe = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if exe is None: pytest.skip("chromium is not installed (.ci/run installs Debian's chromium package)")
    return Browser(exe, tmp_path_factory.mktemp("chromium-profile"))

@pytest.fixture
def shots(request):
    "A folder that keeps this test's screenshots for a person to look at: .test-output/<test name>/."
    d = ROOT/".test-output"/request.node.name; d.mkdir(parents=True, exist_ok=True)
    return d

def _pg_bin():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{d}/initdb"): return d
    p = shutil.which("initdb")
    return os.path.dirname(p) if p else None

@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    "A real PostgreSQL server in a temporary folder on a free loopback port (as the postgres user when run as root)."
    b = _pg_bin()
    if b is None: pytest.skip("PostgreSQL server binaries (initdb) not found: install Debian's postgresql package (.ci/run does)")
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="hnn-pg-")); data = d/"data"       # directly under /tmp: the postgres user must reach it
    as_user = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(d, "postgres"); os.chmod(d, 0o700)
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    subprocess.run(as_user + [f"{b}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    log = d/"pg.log"
    subprocess.run(as_user + [f"{b}/pg_ctl", "-D", str(data), "-l", str(log), "-w", "-o", f"-p {port} -k {d} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True, timeout=60)
    subprocess.run(as_user + [f"{b}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "hnn"], check=True, capture_output=True)
    yield f"postgresql://postgres:not-a-secret@127.0.0.1:{port}/hnn"
    subprocess.run(as_user + [f"{b}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)

def _free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "JupyterLab on a copy of nbs/, on a free loopback port with a token, as `make lab` starts it."
    import shutil
    port, token, home = _free_port(), secrets.token_hex(16), tmp_path_factory.mktemp("lab-home")
    nbs = home/"nbs"; shutil.copytree(ROOT/"nbs", nbs)                    # a copy: JupyterLab may autosave what it opens
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home/"config"), JUPYTER_RUNTIME_DIR=str(home/"runtime"), JUPYTERLAB_WORKSPACES_DIR=str(home/"ws"))
    p = subprocess.Popen([str(BIN/"jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                          f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={nbs}", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try: urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2); break
        except Exception: time.sleep(0.5)
    else: p.kill(); pytest.fail("JupyterLab did not start: " + p.stderr.read().decode()[-2000:])
    yield url, token
    p.terminate(); p.wait(timeout=30)


def restart_postgres(url: str, down: float = 0.0):
    """Restart the server the `postgres` fixture started for `url` (`pg_ctl stop -m fast`, `down` seconds stopped, then
    `pg_ctl start` with the same options), as an administrator restarts it under a running study."""
    import tempfile
    port = url.rsplit(":", 1)[1].split("/")[0]
    d = next(Path(tempfile.gettempdir()).glob(f"hnn-pg-*/.s.PGSQL.{port}")).parent
    as_user, b = (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []), _pg_bin()
    subprocess.run(as_user + [f"{b}/pg_ctl", "-D", str(d/"data"), "-m", "fast", "-w", "stop"], check=True, capture_output=True, timeout=60)
    time.sleep(down)
    subprocess.run(as_user + [f"{b}/pg_ctl", "-D", str(d/"data"), "-l", str(d/"pg.log"), "-w", "-o", f"-p {port} -k {d} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True, timeout=60)
