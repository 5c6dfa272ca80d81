"""Configuration: mistakes are caught at configtest, naming the directive, and
the directive reference documents exactly the directives the module has."""
import re
import subprocess

import pytest

from conftest import HTTPD, ROOT, Stack


def configtest(stack):
    return subprocess.run([HTTPD, "-f", str(stack.conf), "-t"], capture_output=True,
                          text=True)


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
    ("MeetingRateLimitExempt 10.0.0.0/99", "MeetingRateLimitExempt"),
    ("MeetingRecordingDir /nonexistent/dir", "MeetingRecordingDir"),
    ("MeetingMaxBodySize -5", "MeetingMaxBodySize"),
    ("MeetingSignalingDaemon /nonexistent/signald", "MeetingSignalingDaemon"),
    ("MeetingSignalingMaxSocketsPerUser 0", "MeetingSignalingMaxSocketsPerUser"),
    ("MeetingSignalingMaxSocketsPerAddress many", "MeetingSignalingMaxSocketsPerAddress"),
    ("MeetingMaxOngoingMeetings -1", "MeetingMaxOngoingMeetings"),
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


def test_good_configuration_passes(workdir, pg):
    s = Stack(workdir, pg, "MeetingRateLimit * 10/s\nMeetingRateLimit auth.login off\n"
                           "MeetingRateLimitExempt 10.0.0.0/8 ::1\n")
    r = configtest(s)
    assert r.returncode == 0, r.stderr


def test_directive_reference_matches_the_code():
    code = set(re.findall(r'AP_INIT_\w+\("(\w+)"', (ROOT / "mod_meeting/config.c").read_text()))
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
