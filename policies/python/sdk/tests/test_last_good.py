"""The last-good lookup reads as little history as decides it, and the
rollback rules hold on the part it reads."""

from baton_policy import Flow, FlowSettings, events
from baton_policy import testing as t
from baton_policy.display import texts
from baton_policy.flow import HISTORY_DEPTH, HISTORY_STEPS


def world(*history):
    """A world in which `dev` has `history` (newest first)."""
    w = t.FakeWorld()
    w.histories["dev"] = list(history)
    return w


def deploy(version, rolled_back=None, digest=None):
    trailers = [("Baton-Rollback-Of", rolled_back)] if rolled_back else []
    return t.deployment(version, trailers=trailers, digest=digest)


def flow(w):
    c = t.context([t.stage("dev", True), t.stage("prod")], '{"health_timeout": "5m", "rollback_labels": []}')
    return Flow(c, w, FlowSettings.parse(c.settings))


def last_good_of(w, bad):
    f = flow(w)
    return f.last_good(f.stage("dev"), bad)


def dev_reads(*limits):
    return [("dev", limit) for limit in limits]


def test_the_previous_deployment_takes_one_short_read():
    w = world(deploy("v2"), deploy("v1", digest="sha256:v1"), *(deploy(f"old{i}") for i in range(300)))
    assert last_good_of(w, "v2") == ("v1", "sha256:v1")
    assert w.history_reads == dev_reads(4)


def test_a_requested_rollback_reads_the_same_way():
    w = world(deploy("v2"), deploy("v1"))
    w.versions["dev"] = "v2"
    d = flow(w).rollback_requested(events.payload(t.rollback_requested("dev", reason="operator request")))
    assert texts(d)[0] == "roll back dev from v2 to v1 by direct commit"
    assert w.history_reads == dev_reads(4)


def test_an_answer_five_deployments_back_takes_a_second_read():
    # v3 was deployed again and again, and failed each time.
    w = world(*(deploy("v3") for _ in range(4)), deploy("v2"), deploy("v1"))
    assert last_good_of(w, "v3") == ("v2", None)
    assert w.history_reads == dev_reads(4, 16)


def test_the_reads_stop_where_the_history_ends():
    w = world(deploy("v2"))
    assert last_good_of(w, "v2") is None
    assert w.history_reads == dev_reads(4)
    # Exactly as long as a limit: the next read finds it ended.
    w = world(*(deploy("v2") for _ in range(16)))
    assert last_good_of(w, "v2") is None
    assert w.history_reads == dev_reads(4, 16, 64)


def test_the_reads_stop_at_the_history_depth():
    w = world(*(deploy("v2") for _ in range(500)))
    assert last_good_of(w, "v2") is None
    assert w.history_reads == dev_reads(*HISTORY_STEPS)
    assert HISTORY_STEPS[-1] == HISTORY_DEPTH


def test_a_newer_rollback_of_the_candidate_skips_it():
    # v2 was rolled back to v1; a rollback from v1 goes to v0, not v2.
    w = world(deploy("v1", rolled_back="v2"), deploy("v2"), deploy("v0"))
    assert last_good_of(w, "v1") == ("v0", None)


def test_an_older_rollback_of_the_same_version_does_not():
    # v2 was rolled back once, then deployed again (fixed) before v3.
    w = world(deploy("v3"), deploy("v2"), deploy("v1", rolled_back="v2"), deploy("v2"), deploy("v1"))
    assert last_good_of(w, "v3") == ("v2", None)
    assert w.history_reads == dev_reads(4)
