//! The simulated application controller: watches the branch with `git`,
//! starts syncs on new commits and advances each app's timeline.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::repo::{branch_head, files_at};
use super::state::Shared;

/// The version every app holds at `commit` (`None` where unreadable), its
/// files read in one git process.
async fn versions_at(shared: &Shared, commit: &str) -> Vec<Option<String>> {
    let apps: Vec<(String, String, String)> = shared
        .lock_apps()
        .iter()
        .map(|a| (a.cfg.file.clone(), a.cfg.field.clone(), a.cfg.name.clone()))
        .collect();
    let files: Vec<String> = apps.iter().map(|(file, _, _)| file.clone()).collect();
    let contents = match files_at(&shared.config.repo, commit, &files).await {
        Ok(contents) => contents,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the repository");
            return vec![None; apps.len()];
        }
    };
    apps.iter()
        .zip(contents)
        .map(|((file, field, name), content)| {
            let content = content?;
            match shared.reader.read_version(&content, field) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(app = %name, %file, error = %e, "cannot read the version");
                    None
                }
            }
        })
        .collect()
}

/// Checks the branch once; on a new head, every app starts a sync cycle.
/// The first check deploys the current head directly (the simulator starts
/// with every app Healthy and Synced).
pub(crate) async fn check_repo(shared: &Shared) {
    let mut last = shared.last_head.lock().await;
    let in_process = shared
        .reads
        .as_ref()
        .and_then(|r| r.branch_head(&shared.config.branch));
    let head = match in_process {
        Some(head) => Ok(head),
        None => branch_head(&shared.config.repo, &shared.config.branch).await,
    };
    let head = match head {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the branch");
            return;
        }
    };
    let first = !shared
        .started
        .swap(true, std::sync::atomic::Ordering::SeqCst);
    let Some(head) = head else { return };
    if last.as_deref() == Some(head.as_str()) {
        return;
    }
    let versions = versions_at(shared, &head).await;
    {
        let now = Instant::now();
        let mut apps = shared.lock_apps();
        for (app, version) in apps.iter_mut().zip(versions) {
            if first {
                app.deployed_at(&head, version);
            } else {
                app.new_commit(&head, version, now);
            }
        }
    }
    *last = Some(head);
    shared.publish();
}

/// Runs until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>) {
    let poll = Duration::from_millis(shared.config.poll_interval_ms.max(1));
    let mut next_poll = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_poll {
            check_repo(&shared).await;
            next_poll = Instant::now() + poll;
        }
        let due = {
            let now = Instant::now();
            let mut apps = shared.lock_apps();
            let mut changed = false;
            for app in apps.iter_mut() {
                changed |= app.advance(now);
            }
            if changed {
                drop(apps);
                shared.publish();
                shared.lock_apps().iter().filter_map(|a| a.next_due()).min()
            } else {
                apps.iter().filter_map(|a| a.next_due()).min()
            }
        };
        let wake = due.map_or(next_poll, |d| d.min(next_poll));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = shared.kick.notified() => {}
        }
    }
}
