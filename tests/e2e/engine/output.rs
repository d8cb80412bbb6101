//! What a run prints for people, as snapshots: a dry run's hold is a plan,
//! the header quotes `--reason` like a shell would, and a merge request's
//! plan names the older requests it would close.

use super::env::{APP, Env, Setup, assert_code, stdout};

#[test]
fn a_dry_run_rollback_plans_its_hold_and_quotes_its_reason() {
    let env = Env::new(Setup::default());
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.0.1"]), 0);
    env.merge("staging", "v1.0.1");
    // v1.0.2's staging request stays open: the rollback would supersede it.
    assert_code(&env.baton(&["promote", "--app", APP, "--tag", "v1.0.2"]), 0);
    let before = env.fingerprint();
    let out = env.baton(&[
        "rollback",
        "--app",
        APP,
        "--stage",
        "staging",
        "--reason",
        "pager: it's 5xx",
        "--dry-run",
    ]);
    assert_code(&out, 0);
    assert_eq!(env.fingerprint(), before);
    let text = stdout(&out);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{8}T\d{6}Z-[0-9a-f]+", "[run]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[digest]");
    settings.bind(|| {
        insta::assert_snapshot!(text, @r"
        baton rollback --app payments --reason 'pager: it'\''s 5xx' --stage staging (dry run)
        run [run], policy baton-default-policy 0.1.0 (sha256:[digest])
          [plan] roll back staging from v1.0.1 to v1.0.0 by merge request [baton, rollback]
                  would push baton/payments/staging/rollback-v1.0.0 (staging v1.0.1 -> v1.0.0) and open a merge request into main; would close superseded merge request #2 (baton/payments/staging/v1.0.2)
          [plan] hold: waiting for the staging rollback merge request to be merged
        planned: planned only (--dry-run)
        ");
    });
}
