"""The flow's steps, one rule at a time, against a FakeWorld. Actions are
compared as `baton` prints them."""

import pytest

from baton_policy import CapabilityError, Flow, FlowSettings, InvalidEvent, actions, events
from baton_policy import testing as t
from baton_policy.display import texts
from baton_policy.errors import PolicyError, capability


def ctx(settings='{"health_timeout": "5m", "mr_labels": [], "rollback_labels": []}'):
    # Staging allows direct commits too: only the first stage may use them.
    return t.context([t.stage("dev", True), t.stage("staging", True), t.stage("prod")], settings)


def world(*entries):
    w = t.FakeWorld()
    for stage in ("dev", "staging", "prod"):
        w.histories[stage] = [t.deployment(v, trailers=[("Baton-Rollback-Of", r)] if r else []) for v, r in entries]
    return w


def flow(w, c=None):
    c = c or ctx()
    return Flow(c, w, FlowSettings.parse(c.settings))


def observed(stage, health="healthy", **status):
    return events.payload(t.health_observed(stage, "v2", t.app_status(health=health, app=f"payments-{stage}", **status)))


def test_new_version_goes_to_the_first_stage_by_commit_and_is_gated():
    d = flow(world()).decide(t.new_version("v2"))
    assert texts(d) == ["set dev to v2 by direct commit", "await health of dev at v2 (timeout 300s)"]
    assert d.reasons == ["v2 is a new version of payments"]


def test_later_stages_always_get_a_merge_request():
    f = flow(world(("v2", None), ("v1", None)))
    assert texts(f.health_observed(observed("dev"))) == [
        "set staging to v2 by merge request",
        "hold: waiting for the staging merge request to be merged",
    ]


def test_verdicts_follow_health_and_sync():
    f = flow(world())
    dev = f.stage("dev")
    assert f.verdict(dev, observed("dev")).text == "Healthy / Synced @abc"
    assert f.verdict(dev, observed("dev", "progressing")).text == "dev: Progressing / Synced @abc; waiting"
    degraded = observed("dev", resources=[t.resource("Deployment", "api", "degraded", group="apps")])
    assert f.verdict(dev, degraded).text == "dev is Degraded at v2 (Deployment api: degraded)"
    assert f.verdict(dev, observed("dev", "degraded", sync="out-of-sync")).kind == "waiting"
    assert f.verdict(dev, observed("dev", "degraded", operation_phase="running")).kind == "waiting"
    failed = f.verdict(dev, observed("dev", sync="out-of-sync", operation_phase="failed",
                                     operation_message="one or more objects failed to apply"))
    assert (failed.kind, failed.text) == ("failed", "the sync of dev to v2 failed: one or more objects failed to apply")
    strict = flow(world(), ctx('{"progressing_is_waiting": false}'))
    assert strict.verdict(dev, observed("dev", "progressing")).kind == "failed"


def test_failed_gates_roll_back_to_the_last_good_version():
    f = flow(world(("v2", None), ("v1", None)))
    why = "dev not healthy at v2 within 300s (last: no observation at the expected revision)"
    d = f.gate_timeout(events.payload(t.gate_timeout("dev", "v2")))
    assert texts(d) == ["roll back dev from v2 to v1 by direct commit", f"fail: {why}; rolled back to v1"]
    first = flow(world(("v2", None)))
    assert texts(first.roll_back_and_fail(first.stage("dev"), "v2", "bad")) == [
        "fail: bad; no earlier good version of dev to roll back to"]


def test_healthy_rollback_and_last_stage_end_the_run():
    f = flow(world(("v2", None)))
    assert texts(f.health_observed(observed("prod"))) == ["hold: v2 is healthy in prod; promotion of payments complete"]
    rolled = flow(world(("v1", "v2"), ("v2", None), ("v1", None)))
    after = rolled.after_healthy(rolled.stage("dev"), "v1", "seen")
    assert texts(after.decision) == ["hold: dev is healthy at v1 after rolling back v2"]


def test_observations_of_another_version_keep_the_gate_waiting():
    w = world(("v2", None), ("v1", None))
    f = flow(w)
    dev = f.stage("dev")
    assert f.off_version(dev, observed("dev", revision="abc")) is None
    assert f.off_version(dev, observed("dev", revision=None)) == \
        "dev: Argo CD reports no synced revision yet; waiting for abc"
    w.versions["dev"] = "v2"
    assert f.off_version(dev, observed("dev", revision="later1234")) is None
    w.versions["dev"] = "v1"
    d = f.health_observed(observed("dev", "degraded", revision="older1234"))
    assert (d.actions, d.reasons) == ([], ["dev: Argo CD is at older12 which holds v1, not v2 at abc; waiting"])
    del w.versions["dev"]
    assert f.off_version(dev, observed("dev", revision="older1234")) == (
        'dev: cannot tell which version revision older12 holds (CapabilityError::NotFound("stage dev")); waiting')


def test_requested_rollbacks():
    w = world(("v3", None), ("v2", None), ("v1", None))
    w.versions.update(dev="v3", staging="v3")
    f = flow(w)
    assert texts(f.decide(t.rollback_requested("dev", reason="pager"))) == [
        "roll back dev from v3 to v2 by direct commit", "await health of dev at v2 (timeout 300s)"]
    assert texts(f.decide(t.rollback_requested("dev", "v3"))) == ["hold: dev is already at v3"]
    assert texts(f.decide(t.rollback_requested("staging", "v1"))) == [
        "roll back staging from v3 to v1 by merge request",
        "hold: waiting for the staging rollback merge request to be merged"]


def test_errors():
    with pytest.raises(InvalidEvent) as e:
        flow(world()).decide(t.health_observed("qa", "v2", t.app_status()))
    assert e.value.message == "app payments has no stage qa"
    with pytest.raises(type(capability(CapabilityError("not-found", "x")))) as e:
        flow(world()).decide(t.rollback_requested("dev"))
    assert e.value.message == 'CapabilityError::NotFound("stage dev")'


def test_an_event_kind_the_sdk_does_not_know_is_nothing_to_do():
    class Reconcile:  # what a later contract version could add
        value = None

    assert events.kind(Reconcile()) is None
    d = flow(world()).decide(Reconcile())
    assert d.actions == [] and d.reasons == ["Reconcile is not an event this policy acts on; nothing to do"]


def test_action_constructors():
    options = actions.mr_options("d", ["a", "b"], auto_merge=True)
    assert texts(actions.decision([actions.merge_request("prod", "v1", options, "r")])) == [
        "set prod to v1 by merge request [a, b] (auto-merge)"]
    assert texts(actions.nothing("why")) == []


def test_a_stage_s_own_labels_go_on_its_merge_requests():
    c = ctx('{"mr_labels": ["promo"], "stages": {"prod": {"mr_labels": ["promo", "prod"], '
            '"rollback_labels": ["prod-rollback"]}}}')
    f = flow(world(("v2", None), ("v1", None)), c)
    assert texts(f.health_observed(observed("dev")))[0] == "set staging to v2 by merge request [promo]"
    assert texts(f.health_observed(observed("staging")))[0] == "set prod to v2 by merge request [promo, prod]"
    assert texts(f.health_observed(observed("prod", "degraded")))[0] == \
        "roll back prod from v2 to v1 by merge request [prod-rollback]"
    s = FlowSettings.parse(c.settings)
    assert (s.mr_labels_for("dev"), s.rollback_labels_for("dev")) == (["promo"], ["baton", "rollback"])
    with pytest.raises(PolicyError) as e:
        FlowSettings.parse('{"stages": {"prod": {"mr_labels": "prod"}}}')
    assert e.value.message == 'settings.stages.prod.mr_labels: "prod" is not a list of strings'


def two_regions():
    """prod deployed in `eu` and `us`."""
    prod = t.stage("prod", targets=[t.target("prod", "eu"), t.target("prod", "us")])
    return t.context([t.stage("dev", True), t.stage("staging"), prod],
                     '{"health_timeout": "5m", "mr_labels": [], "rollback_labels": []}')


def prod_observed(eu=None, us=None):
    """prod at v2 with each region's latest observation (`None`: none)."""
    eu_target, us_target = t.target("prod", "eu"), t.target("prod", "us")
    statuses = {"eu": None if eu is None else t.app_status(eu, app=eu_target.argocd_app),
                "us": None if us is None else t.app_status(us, app=us_target.argocd_app)}
    last = statuses["us"] or statuses["eu"]
    targets = [t.target_status(eu_target, statuses["eu"]), t.target_status(us_target, statuses["us"])]
    return t.health_observed("prod", "v2", last, targets=targets)


def test_a_stage_with_several_targets_passes_only_when_every_target_is_healthy():
    f = flow(world(("v2", None), ("v1", None)), two_regions())
    only_eu = f.decide(prod_observed(eu="healthy"))
    assert texts(only_eu) == []
    assert only_eu.reasons == ["prod/us (payments-prod-us): no observation at abc yet; waiting"]
    waiting = f.decide(prod_observed(eu="healthy", us="progressing"))
    assert waiting.reasons == ["prod/us (payments-prod-us): Progressing / Synced @abc; waiting"]
    assert texts(f.decide(prod_observed(eu="healthy", us="healthy"))) == [
        "hold: v2 is healthy in prod; promotion of payments complete"]
    why = "prod/us (payments-prod-us) is Degraded at v2"
    for observed_event in (prod_observed(eu="healthy", us="degraded"), prod_observed(us="degraded")):
        assert texts(f.decide(observed_event)) == [
            "roll back prod from v2 to v1 by merge request", f"fail: {why}; rolled back to v1"]


def test_a_timeout_of_a_stage_with_several_targets_says_what_each_showed():
    f = flow(world(("v2", None), ("v1", None)), two_regions())
    observed_event = events.payload(prod_observed(eu="healthy"))
    timeout = t.gate_timeout("prod", "v2", observed_event.status, targets=observed_event.targets)
    assert texts(f.decide(timeout))[1] == (
        "fail: prod not healthy at v2 within 300s (last: eu: Healthy / Synced @abc; "
        "us: no observation at the expected revision); rolled back to v1")
