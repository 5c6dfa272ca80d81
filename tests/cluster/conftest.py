"""The cluster test's one fixture: the cluster (tests/cluster/cluster.py), up
for the whole module. Only inside the namespace tests/cluster/run.sh makes."""
import os

import pytest

from cluster import Cluster

# Limits the test is about: one user's profile reads and one address's token
# refreshes, per hour so that no refill happens during the test.
LIMITS = """
MeetingRateLimit profile.get 10/h
MeetingRateLimit auth.refresh 5/h
"""


@pytest.fixture(scope="session")
def cluster():
    if not os.environ.get("MM_CLUSTER_NETNS"):
        pytest.fail("run the cluster test through tests/cluster/run.sh (a network namespace)")
    c = Cluster(LIMITS)
    try:
        c.start()
        yield c
    finally:
        c.stop()
