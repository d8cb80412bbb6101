"""Last good version from history, and reading Argo CD observations."""

from baton_policy import testing as t
from baton_policy.health import aborted_rollout, describe, is_healthy_at, paused_rollout
from baton_policy.history import last_good


def history(*entries):
    return [t.deployment(v, trailers=[("Baton-Rollback-Of", r)] if r else []) for v, r in entries]


def test_previous_version_is_last_good():
    assert last_good(history(("v3", None), ("v2", None), ("v1", None)), "v3") == "v2"


def test_skips_versions_that_were_rolled_back():
    h = history(("v3", None), ("v1", "v2"), ("v2", None), ("v1", None))
    assert last_good(h, "v3") == "v1"


def test_a_newer_rollback_rules_a_version_out():
    # v2 was rolled back to v1 and v3 is bad: v2 is not good again.
    assert last_good(history(("v3", None), ("v1", "v2"), ("v2", None)), "v3") == "v1"
    assert last_good(history(("v1", "v2"), ("v2", None), ("v0", None)), "v1") == "v0"


def test_an_older_rollback_does_not_rule_a_redeployed_version_out():
    # v2 failed once and was rolled back; a fixed v2 was deployed again
    # later and ran well before v3 went bad.
    h = history(("v3", None), ("v2", None), ("v1", "v2"), ("v2", None), ("v1", None))
    assert last_good(h, "v3") == "v2"


def test_none_without_an_earlier_version():
    assert last_good(history(("v1", None)), "v1") is None
    assert last_good([], "v1") is None


def test_healthy_at_a_revision():
    status = t.app_status(revision="0123456789abcdef")
    assert is_healthy_at(status, "0123456789abcdef")
    assert not is_healthy_at(status, "other")
    assert not is_healthy_at(t.app_status(sync="out-of-sync", revision="x"), "x")
    assert describe(status) == "Healthy / Synced @0123456"
    assert describe(t.app_status(health="missing", sync="out-of-sync", revision=None)) == "Missing / OutOfSync @-"


def test_paused_and_aborted_rollouts():
    for message in ("CanaryPauseStep", "Rollout is paused"):
        status = t.app_status(health="suspended", resources=[
            t.resource("Rollout", "payments", "suspended", message, group="argoproj.io")])
        assert paused_rollout(status).message == message
        assert aborted_rollout(status) is None
    aborted = t.app_status(health="degraded", resources=[
        t.resource("Rollout", "payments", "degraded", "RolloutAborted: metric failed", group="argoproj.io")])
    assert aborted_rollout(aborted).name == "payments"
    cron = t.app_status(health="suspended", resources=[t.resource("CronJob", "c", "suspended", "Suspended", group="batch")])
    assert paused_rollout(cron) is None
