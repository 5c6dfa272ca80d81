"""What an admin installs: conf/meeting.load and meeting.conf enabled with
a2enmod in a Debian apache2 layout, and conf/mod_meeting-signald.service.

The Debian layout is a copy of this machine's /etc/apache2 in a temporary
directory (a2enmod and apache2ctl take their paths from APACHE_CONFDIR and
friends): nothing under the real /etc is touched."""
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import HTTPD, ROOT, SIGNALD, free_port

REAL_CONFDIR = Path("/etc/apache2")
UNIT = ROOT / "conf/mod_meeting-signald.service"


def wait_for(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    return pred()


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def www_data_dir(path):
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, pwd.getpwnam("www-data").pw_uid, pwd.getpwnam("www-data").pw_gid)
    return path


def root_only_secret(path):
    path.write_bytes(os.urandom(24).hex().encode() + b"\n")
    path.chmod(0o600)
    return path


class DebianLayout:
    """A copy of /etc/apache2 whose run, lock and log directories are under base."""

    def __init__(self, base, pg):
        self.base = base
        self.pg = pg
        self.confdir = base / "etc/apache2"
        shutil.copytree(REAL_CONFDIR, self.confdir, symlinks=True)
        for name in ("meeting", "dbd", "proxy", "proxy_wstunnel"):
            for sfx in (".load", ".conf"):
                (self.confdir / "mods-enabled" / (name + sfx)).unlink(missing_ok=True)
        self.run = www_data_dir(base / "run")
        self.logs = base / "log"
        self.logs.mkdir()
        envvars = (self.confdir / "envvars").read_text()
        envvars = re.sub(r"^export APACHE_(PID_FILE|RUN_DIR|LOCK_DIR|LOG_DIR)=.*$", "",
                         envvars, flags=re.M)
        envvars += (f"export APACHE_PID_FILE={self.run}/apache2.pid\n"
                    f"export APACHE_RUN_DIR={self.run}\nexport APACHE_LOCK_DIR={self.run}\n"
                    f"export APACHE_LOG_DIR={self.logs}\n")
        (self.confdir / "envvars").write_text(envvars)
        self.port = free_port()
        (self.confdir / "ports.conf").write_text(f"Listen 127.0.0.1:{self.port}\n")
        self.env = {**os.environ, "APACHE_CONFDIR": str(self.confdir),
                    "APACHE_STATE_DIRECTORY": str(base / "state")}

    def install(self, load_text):
        """What `make install` puts into mods-available, pointed at this build
        and at this test's PostgreSQL, secret, recording directory and a free
        port for signald: only the four places meeting.conf's top names change."""
        secret = root_only_secret(self.base / "jwt.secret")
        rec = www_data_dir(self.base / "recordings")
        self.sigport = free_port()
        conf = (ROOT / "conf/meeting.conf").read_text()
        active = "\n".join(line for line in conf.splitlines()
                           if not line.lstrip().startswith("#"))
        assert active.count("127.0.0.1:8071") == 2         # places 3 and 4
        assert active.count("host=127.0.0.1 port=5432 dbname=meeting") == 2   # 1 and 2
        conf = (conf.replace("127.0.0.1:8071", f"127.0.0.1:{self.sigport}")
                .replace("port=5432", f"port={self.pg.port}")
                .replace("/etc/apache2/meeting/jwt.secret", str(secret))
                .replace("/var/lib/mod_meeting/recordings", str(rec))
                .replace("/usr/sbin/mod_meeting-signald", SIGNALD))
        avail = self.confdir / "mods-available"
        (avail / "meeting.load").write_text(load_text.replace(
            "/usr/lib/apache2/modules/mod_meeting.so", str(ROOT / "build/mod_meeting.so")))
        (avail / "meeting.conf").write_text(conf)

    def a2enmod(self, *mods):
        return subprocess.run(["a2enmod", "-q", *mods], env=self.env, capture_output=True,
                              text=True)

    def apache2(self, *args):
        """apache2 with the layout's envvars, as apache2ctl runs it."""
        cmd = (f". {shlex.quote(str(self.confdir / 'envvars'))} && exec {HTTPD} "
               f"-d {shlex.quote(str(self.confdir))} " + " ".join(args))
        return subprocess.run(["sh", "-c", cmd], env=self.env, capture_output=True, text=True)

    def error_log(self):
        path = self.logs / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self):
        pidfile = self.run / "apache2.pid"
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text())
        self.apache2("-k", "stop")
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), 15)


def private_dir(workdir, prefix):
    """A fresh directory under the session's (which www-data may enter)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=workdir))
    path.chmod(0o755)
    return path


@pytest.fixture
def debian(workdir, pg):
    base = private_dir(workdir, "debian-")
    before = sorted(os.listdir(REAL_CONFDIR / "mods-enabled"))
    layout = DebianLayout(base, pg)
    yield layout
    layout.stop()
    assert sorted(os.listdir(REAL_CONFDIR / "mods-enabled")) == before


def test_a2enmod_meeting_alone_enables_what_it_needs_and_loads(debian):
    debian.install((ROOT / "conf/meeting.load").read_text())
    r = debian.a2enmod("meeting")
    assert r.returncode == 0, r.stdout + r.stderr
    enabled = debian.confdir / "mods-enabled"
    for name in ("dbd", "proxy", "proxy_wstunnel", "meeting"):
        assert (enabled / f"{name}.load").is_symlink(), name
    r = debian.apache2("-t")
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in r.stderr


def test_without_the_depends_line_the_module_does_not_load(debian):
    """Why meeting.load carries its Depends line: the same file without it."""
    load = (ROOT / "conf/meeting.load").read_text()
    assert load.startswith("# Depends: dbd proxy proxy_wstunnel\n")
    debian.install(load.split("\n", 1)[1])
    assert debian.a2enmod("meeting").returncode == 0
    assert not (debian.confdir / "mods-enabled/dbd.load").exists()
    r = debian.apache2("-t")
    assert r.returncode != 0
    assert "undefined symbol: ap_dbd" in r.stderr, r.stderr


@pytest.mark.allow_errors
def test_debian_layout_starts_serves_and_logs_no_ah02653(debian):
    """Debian's default site is a second server (a <VirtualHost>) sharing the
    main server's mod_dbd configuration: the module's statements are prepared
    once for it, so mod_dbd sees no conflicting labels at start or at a
    graceful restart."""
    debian.install((ROOT / "conf/meeting.load").read_text())
    assert debian.a2enmod("meeting").returncode == 0
    r = debian.apache2("-k", "start")
    assert r.returncode == 0, r.stderr + debian.error_log()
    url = f"http://127.0.0.1:{debian.port}/api/v1/health"

    def healthy():
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False
    assert wait_for(healthy, 60), debian.error_log()
    assert wait_for(lambda: listening(debian.sigport), 10), debian.error_log()
    assert debian.apache2("-k", "graceful").returncode == 0
    time.sleep(1.5)
    assert wait_for(healthy, 30), debian.error_log()
    # The shipped meeting.conf leaves the metrics endpoint off.
    metrics = requests.get(f"http://127.0.0.1:{debian.port}/meeting-metrics", timeout=10)
    assert metrics.status_code == 404
    log = debian.error_log()
    # This httpd's log: "configured -- resuming normal operations" at the start
    # and after the graceful restart ("SIGUSR1 received").
    assert log.count("AH00489") == 2 and "AH00493" in log, log
    assert "AH02653" not in log, log
    assert not re.search(r"\[meeting:(error|crit)\]", log), log


def unit_service():
    """[Service] key=value pairs of the unit, continuation lines joined."""
    text = UNIT.read_text().replace("\\\n", " ")
    section, out = None, {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = value
    return out


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_unit_verifies(tmp_path):
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/sbin/mod_meeting-signald", SIGNALD))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def run_exec_start(svc, creds, sigport, pg):
    """The unit's ExecStart as systemd would run it: as its User and Group, %d
    its credentials directory, pointed at this build, a free port and the test
    database (the unit's 2 and 3 of meeting.conf's four places)."""
    argv = shlex.split(svc["ExecStart"].replace("%d", str(creds)))
    assert argv[0] == "/usr/sbin/mod_meeting-signald"
    argv = [SIGNALD] + [a.replace("127.0.0.1:8071", f"127.0.0.1:{sigport}")
                        .replace("port=5432", f"port={pg.port}") for a in argv[1:]]
    return subprocess.Popen(["setpriv", f"--reuid={svc['User']}", f"--regid={svc['Group']}",
                             "--init-groups", "--", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_systemd_unit_exec_start_runs_as_the_unit_would(workdir, pg):
    """The secret stays 0600 root; LoadCredential= hands the service a copy in
    its credentials directory, which is what ExecStart reads."""
    tmp_path = private_dir(workdir, "unit-")
    svc = unit_service()
    assert svc["User"] == "www-data"
    cred_id, source = svc["LoadCredential"].split(":", 1)
    assert source == "/etc/apache2/meeting/jwt.secret"
    secret = root_only_secret(tmp_path / "jwt.secret")
    # systemd's copy: in a directory of the service, readable by its user only.
    creds = www_data_dir(tmp_path / "credentials")
    creds.chmod(0o500)
    shutil.copy(secret, creds / cred_id)
    os.chown(creds / cred_id, pwd.getpwnam("www-data").pw_uid, -1)
    (creds / cred_id).chmod(0o400)
    sigport = free_port()
    proc = run_exec_start(svc, creds, sigport, pg)
    try:
        assert wait_for(lambda: listening(sigport) or proc.poll() is not None, 15)
        assert proc.poll() is None, proc.stdout.read()
        assert listening(sigport)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    # The unit as it was (the secret file itself, 0600 root): signald exits 3,
    # which RestartPreventExitStatus then keeps down.
    svc_old = {**svc, "ExecStart": svc["ExecStart"].replace(f"%d/{cred_id}", str(secret))}
    old = run_exec_start(svc_old, creds, free_port(), pg)
    assert old.wait(timeout=15) == 3
    assert "3" in svc["RestartPreventExitStatus"].split()
