"""The Python default policy, natively: the Rust default policy's unit
tests, rule for rule."""

import pytest

from baton_policy import InvalidEvent, InvalidSettings
from baton_policy import testing as t
from baton_policy.display import texts

import default_policy


def ctx(settings='{"health_timeout":"5m","mr_labels":["promo"]}'):
    return t.context([t.stage("dev", True), t.stage("staging"), t.stage("prod")], settings)


def world(*entries):
    w = t.FakeWorld()
    for stage in ("dev", "staging", "prod"):
        w.histories[stage] = [t.deployment(v, trailers=[("Baton-Rollback-Of", r)] if r else []) for v, r in entries]
    return w


def decide(event, w, c=None):
    return default_policy.decide(c or ctx(), event, w)


def observed(stage, health="healthy", **kw):
    return t.health_observed(stage, "v2", t.app_status(health=health, **kw))


def test_new_version_goes_to_dev_by_commit_then_health():
    assert texts(decide(t.new_version("v2"), world())) == [
        "set dev to v2 by direct commit", "await health of dev at v2 (timeout 300s)"]


def test_healthy_dev_opens_the_staging_merge_request():
    assert texts(decide(observed("dev"), world(("v2", None), ("v1", None)))) == [
        "set staging to v2 by merge request [promo]",
        "hold: waiting for the staging merge request to be merged"]


def test_paused_canary_waits_and_aborted_rollout_fails():
    w = world(("v2", None), ("v1", None))
    paused = [t.resource("Rollout", "payments", "suspended", "CanaryPauseStep", group="argoproj.io")]
    d = decide(observed("dev", "suspended", resources=paused), w)
    assert (d.actions, d.reasons) == ([], ["dev: canary payments paused (Suspended / Synced @abc); waiting"])
    aborted = [t.resource("Rollout", "payments", "degraded", "RolloutAborted: metric failed", group="argoproj.io")]
    assert texts(decide(observed("dev", "degraded", resources=aborted), w)) == [
        "roll back dev from v2 to v1 by direct commit",
        "fail: dev is Degraded at v2 (Rollout payments: RolloutAborted: metric failed); rolled back to v1"]


def test_degraded_staging_rolls_back_by_merge_request_skipping_rolled_back_versions():
    w = world(("v2", None), ("v1", "v1.5"), ("v1.5", None), ("v1", None))
    assert texts(decide(observed("staging", "degraded"), w))[0] == \
        "roll back staging from v2 to v1 by merge request [baton, rollback]"


def test_stage_changed_is_gated():
    d = decide(t.stage_changed("staging", "v2", "v1", commit="m1"), world())
    assert texts(d) == ["await health of staging at v2 (timeout 300s)"]
    assert d.reasons == ["staging changed v1 -> v2; gating it"]


def test_errors_are_policy_errors():
    with pytest.raises(InvalidEvent, match="^app payments has no stage qa$"):
        decide(observed("qa"), world())
    with pytest.raises(InvalidSettings, match="^settings.health_timeout: soon is not a duration"):
        decide(t.new_version("v1"), world(), ctx('{"health_timeout": "soon"}'))
