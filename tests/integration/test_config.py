"""Configuration: mistakes are caught at configtest, naming the directive, and
the directive reference documents exactly the directives the module has."""
import os
import re
import subprocess

import pytest
import requests

from conftest import HTTPD, ROOT, Stack


def configtest(stack):
    return subprocess.run([HTTPD, "-f", str(stack.conf), "-t"], capture_output=True,
                          text=True)


def without(stack, *names):
    """Rewrites the stack's httpd.conf without the lines of the directives named."""
    lines = stack.conf.read_text().splitlines()
    stack.conf.write_text("\n".join(line for line in lines
                                    if line.split()[:1] not in [[n] for n in names]) + "\n")


@pytest.mark.parametrize("line,name", [
    ("MeetingJWTSecretFile /nonexistent/secret", "MeetingJWTSecretFile"),
    ("MeetingBcryptCost 99", "MeetingBcryptCost"),
    ("MeetingAccessTokenLifetime ten", "MeetingAccessTokenLifetime"),
    ("MeetingTicketLifetime 301", "MeetingTicketLifetime"),
    ("MeetingSignalingURL http://example.com/ws", "MeetingSignalingURL"),
    ("MeetingStunServer turn:example.com", "MeetingStunServer"),
    ("MeetingRateLimit meeting.nope 10", "MeetingRateLimit"),
    ("MeetingRateLimit meeting.list 0", "MeetingRateLimit"),
    ("MeetingRateLimit meeting.list 10/fortnight", "MeetingRateLimit"),
    ("MeetingRateLimit meeting.list 10/week", "N/s, N/min, N/h, N/day"),
    ("MeetingRateLimitExempt 10.0.0.0/99", "MeetingRateLimitExempt"),
    ("MeetingRecordingDir /nonexistent/dir", "MeetingRecordingDir"),
    ("MeetingMaxBodySize -5", "MeetingMaxBodySize"),
    ("MeetingSignalingDaemon /nonexistent/signald", "MeetingSignalingDaemon"),
    ("MeetingSignalingMaxSocketsPerUser 0", "MeetingSignalingMaxSocketsPerUser"),
    ("MeetingSignalingMaxSocketsPerAddress many", "MeetingSignalingMaxSocketsPerAddress"),
    ("MeetingMaxOngoingMeetings -1", "MeetingMaxOngoingMeetings"),
    ("MeetingWebhookAllow 127.0.0.1:*", "MeetingWebhookAllow"),
    ("MeetingWebhookAllow http://127.0.0.1:*/path", "MeetingWebhookAllow"),
    ("MeetingWebhookAllow http://user@127.0.0.1:*", "MeetingWebhookAllow"),
    ("MeetingWebhookTimeout 61", "MeetingWebhookTimeout"),
    ("MeetingWebhookConnections 0", "MeetingWebhookConnections"),
    ("MeetingWebhookRetrySchedule 5s 5 days", "MeetingWebhookRetrySchedule"),
    ("MeetingWebhookRetrySchedule 8d", "MeetingWebhookRetrySchedule"),
    ("MeetingWebhookRetrySchedule " + " ".join(["1s"] * 21), "MeetingWebhookRetrySchedule"),
    ("MeetingNodeName n1;x", "MeetingNodeName"),
    ("MeetingNodeName " + "n" * 64, "MeetingNodeName"),
    ("MeetingNodeSignalingURL http://meet.example.com/ws", "MeetingNodeSignalingURL"),
    ("MeetingNodeSignalingURL ws://meet.example.com/ws#n1", "MeetingNodeSignalingURL"),
    ("MeetingNodeTimeout 2", "MeetingNodeTimeout"),
])
def test_configtest_names_the_bad_directive(workdir, pg, line, name):
    s = Stack(workdir, pg, line)
    r = configtest(s)
    assert r.returncode != 0
    assert name in r.stderr, r.stderr


def test_short_secret_is_refused(workdir, pg):
    s = Stack(workdir, pg)
    short = s.state / "short.secret"
    short.write_text("too-short\n")
    s.extra += f"\nMeetingJWTSecretFile {short}\n"
    s.render()
    r = configtest(s)
    assert r.returncode != 0
    assert "MeetingJWTSecretFile" in r.stderr and "32 bytes" in r.stderr


def test_a_directory_as_the_secret_file_is_called_a_directory(workdir, pg):
    s = Stack(workdir, pg, "MeetingJWTSecretFile /tmp\n")
    r = configtest(s)
    assert r.returncode != 0
    assert "MeetingJWTSecretFile" in r.stderr and "is a directory" in r.stderr, r.stderr


def test_no_secret_file_fails_configtest(workdir, pg):
    """Checked once every server is merged (check_config): configtest runs it,
    where a post_config check let it say "Syntax OK"."""
    s = Stack(workdir, pg)
    without(s, "MeetingJWTSecretFile")
    r = configtest(s)
    assert r.returncode != 0 and "Syntax OK" not in r.stderr
    assert "MeetingJWTSecretFile is not set" in r.stderr, r.stderr


def test_handler_without_dbdriver_fails_configtest(workdir, pg):
    s = Stack(workdir, pg)
    without(s, "DBDriver")
    r = configtest(s)
    assert r.returncode != 0
    assert "DBDriver" in r.stderr and "SetHandler meeting-api" in r.stderr, r.stderr
    assert "the main server" in r.stderr


def test_dbdriver_in_another_virtual_host_does_not_count(workdir, pg):
    """The handler in one <VirtualHost>, a DBDriver only in another's."""
    s = Stack(workdir, pg)
    text = s.conf.read_text()
    text = text.replace("<Location /api/v1>\n    SetHandler meeting-api",
                        "<Location /api/v1>\n    SetHandler none")
    dbd = [line for line in text.splitlines() if line.startswith("DBDriver")][0]
    text = text.replace(dbd + "\n", "")
    text += (f"<VirtualHost 127.0.0.1:{s.port}>\n  ServerName a.test\n  {dbd}\n"
             "</VirtualHost>\n"
             f"<VirtualHost 127.0.0.1:{s.port}>\n  ServerName b.test\n"
             "  <Location /api/v1>\n    SetHandler meeting-api\n  </Location>\n"
             "</VirtualHost>\n")
    s.conf.write_text(text)
    r = configtest(s)
    assert r.returncode != 0
    assert re.search(r"MM0701: .*<VirtualHost> at .*httpd\.conf:\d+", r.stderr), r.stderr
    # The same handler with the DBDriver in its own virtual host passes.
    s.conf.write_text(text.replace("  ServerName b.test\n", f"  ServerName b.test\n  {dbd}\n"))
    r = configtest(s)
    assert r.returncode == 0, r.stderr


def test_recording_dir_not_writable_by_user_fails_configtest(workdir, pg):
    s = Stack(workdir, pg)
    rec = s.state / "recordings"
    os.chown(rec, 0, 0)
    rec.chmod(0o755)
    r = configtest(s)
    assert r.returncode != 0
    assert "MeetingRecordingDir" in r.stderr and "www-data" in r.stderr, r.stderr
    rec.chmod(0o777)
    assert configtest(s).returncode == 0


@pytest.mark.allow_errors
def test_a_runtime_dir_too_long_for_signalds_socket_fails_configtest(workdir, pg):
    """The chat socket (mod_meeting-signald.sock in DefaultRuntimeDir) must fit a Unix
    socket's 107 bytes: configtest says so, naming MeetingSignalingDaemon."""
    s = Stack(workdir, pg)
    long_dir = s.state / ("r" * 100)
    long_dir.mkdir()
    text = s.conf.read_text()
    s.conf.write_text(re.sub(r'^DefaultRuntimeDir .*$', f'DefaultRuntimeDir "{long_dir}"', text,
                             flags=re.M))
    r = configtest(s)
    assert r.returncode != 0
    assert "MM1804: MeetingSignalingDaemon" in r.stderr and "DefaultRuntimeDir" in r.stderr, \
        r.stderr
    s.conf.write_text(text)
    assert configtest(s).returncode == 0


def test_graceful_onto_a_broken_config_keeps_the_old_httpd(make_stack):
    """httpd -k graceful (what apache2ctl graceful runs) checks the new
    configuration before it signals the running server: a meeting check that
    fails stops it there, and the old generation goes on serving."""
    s = make_stack()
    pid = s.pid()
    without(s, "MeetingJWTSecretFile")
    r = s.httpd("-k", "graceful")
    assert r.returncode != 0
    assert "MeetingJWTSecretFile" in r.stderr, r.stderr
    assert s.pid() == pid
    os.kill(pid, 0)
    assert requests.get(s.url + "/api/v1/health", timeout=10).status_code == 200
    assert s.signald_pids()


def test_good_configuration_passes(workdir, pg):
    s = Stack(workdir, pg, "MeetingRateLimit * 10/s\nMeetingRateLimit auth.login off\n"
                           "MeetingRateLimit meeting.create 10/day\n"
                           "MeetingRateLimitExempt 10.0.0.0/8 ::1\n")
    r = configtest(s)
    assert r.returncode == 0, r.stderr


def test_directive_reference_matches_the_code():
    code = set(re.findall(r'AP_INIT_\w+\("(\w+)"', (ROOT / "mod_meeting/httpd/config.c").read_text()))
    docs = set(re.findall(r"^## (Meeting\w+)$", (ROOT / "docs/directives.md").read_text(), re.M))
    assert code and code == docs
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{d}`" in readme for d in code)


def test_shipped_debian_snippets_pass_configtest(workdir, pg):
    """conf/meeting.load and conf/meeting.conf, as a2enmod would enable them."""
    s = Stack(workdir, pg)
    load = (ROOT / "conf/meeting.load").read_text().replace(
        "/usr/lib/apache2/modules/mod_meeting.so", str(ROOT / "build/mod_meeting.so"))
    conf = ((ROOT / "conf/meeting.conf").read_text()
            .replace("/etc/apache2/meeting/jwt.secret", str(s.state / "jwt.secret"))
            .replace("/var/lib/mod_meeting/recordings", str(s.state / "recordings"))
            .replace("/usr/sbin/mod_meeting-signald", str(ROOT / "build/signald")))
    main = s.conf.read_text()
    start = main.index("LoadModule meeting_module")
    main = main[:start] + main[main.index("\n", start) + 1:]
    main = main[:main.index("DBDriver")]  # keep the server basics, drop our own setup
    (s.state / "debian.conf").write_text(main + load + conf)
    r = subprocess.run([HTTPD, "-f", str(s.state / "debian.conf"), "-t"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_readme_sample_passes_configtest(workdir, pg):
    """The configuration README.md shows for enabling the module in one's own httpd."""
    s = Stack(workdir, pg)
    readme = (ROOT / "README.md").read_text()
    sample = readme.split("## Enabling it in your own httpd")[1].split("```apache\n")[1]
    sample = (sample.split("```")[0]
              .replace("modules/mod_meeting.so", str(ROOT / "build/mod_meeting.so"))
              .replace(" modules/", " /usr/lib/apache2/modules/")
              .replace("/etc/apache2/meeting/jwt.secret", str(s.state / "jwt.secret"))
              .replace("/var/lib/mod_meeting/recordings", str(s.state / "recordings"))
              .replace("/usr/sbin/mod_meeting-signald", str(ROOT / "build/signald")))
    main = s.conf.read_text()
    main = "".join(line for line in main.splitlines(keepends=True)
                   if not re.match(r"LoadModule (dbd|proxy|proxy_wstunnel|meeting)_module ", line))
    main = main[:main.index("DBDriver")]
    (s.state / "readme.conf").write_text(main + sample)
    r = subprocess.run([HTTPD, "-f", str(s.state / "readme.conf"), "-t"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.allow_errors
def test_two_virtual_hosts_start_without_ah02653_and_both_serve(make_stack):
    """One virtual host shares the main server's mod_dbd configuration, the
    other has a DBDParams of its own: the statements are prepared once for
    the shared one (mod_dbd would warn AH02653 for a second time) and once for
    the other, and the API answers on both."""
    s = make_stack(start=False)
    own = " ".join(s.directive("DBDParams")[0])[:-1] + ' application_name=vhost_b"'
    s.extra += (f"\n<VirtualHost 127.0.0.1:{s.port}>\n  ServerName a.test\n</VirtualHost>\n"
                f"<VirtualHost 127.0.0.1:{s.port}>\n  ServerName b.test\n  DBDParams {own}\n"
                "</VirtualHost>\n")
    s.render()
    s.start()
    s.graceful()
    for host in ("a.test", "b.test"):
        r = requests.get(s.url + "/api/v1/health", headers={"Host": host}, timeout=10)
        assert r.status_code == 200, (host, r.text)
    # b.test's requests ran on its own connections.
    assert s.sql("SELECT count(*) FROM pg_stat_activity "
                 "WHERE application_name = 'vhost_b'")[0][0] != "0"
    log = s.log_text()
    assert "AH00489" in log
    assert "AH02653" not in log, log
