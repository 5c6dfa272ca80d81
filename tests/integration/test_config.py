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
