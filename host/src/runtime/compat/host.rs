//! The 0.1.0 capability interfaces: each call goes to the same
//! implementation as 0.2's (`runtime/host.rs`), which records the answer in
//! the current form, and the answer is projected down for the policy.

use crate::runtime::bindings::v0_1::baton::policy::types::{
    AppStatus, CapabilityError, Deployment, MergeRequest,
};
use crate::runtime::bindings::v0_1::baton::policy::{argocd, clock, forge, git, log, types};
use crate::runtime::store::StoreState;

type Answer<T> = wasmtime::Result<Result<T, CapabilityError>>;

/// A 0.2 answer as 0.1 sees it.
fn down<T, U: Into<T>, E: Into<CapabilityError>>(
    answer: wasmtime::Result<Result<U, E>>,
) -> Answer<T> {
    answer.map(|r| r.map(Into::into).map_err(Into::into))
}

impl types::Host for StoreState {}

impl git::Host for StoreState {
    fn read_file(&mut self, path: String, revision: Option<String>) -> Answer<Vec<u8>> {
        down(self.git_read_file(&path, revision.as_deref()))
    }

    fn stage_version(&mut self, stage: String, revision: Option<String>) -> Answer<String> {
        down(self.git_stage_version(&stage, revision.as_deref()))
    }

    fn stage_history(&mut self, stage: String, limit: u32) -> Answer<Vec<Deployment>> {
        let history = self.git_stage_history(&stage, limit);
        history.map(|r| {
            r.map(|list| list.into_iter().map(Into::into).collect())
                .map_err(Into::into)
        })
    }
}

impl argocd::Host for StoreState {
    fn application_status(&mut self, app: String) -> Answer<AppStatus> {
        down(self.argocd_application_status(&app))
    }
}

impl forge::Host for StoreState {
    fn find_open(&mut self, source_branch: String) -> Answer<Option<MergeRequest>> {
        let found = self.forge_find_open(&source_branch);
        found.map(|r| r.map(|mr| mr.map(Into::into)).map_err(Into::into))
    }

    fn get(&mut self, number: u64) -> Answer<MergeRequest> {
        down(self.forge_get(number))
    }
}

impl clock::Host for StoreState {
    fn now(&mut self) -> wasmtime::Result<i64> {
        self.clock_now()
    }
}

impl log::Host for StoreState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.log_message(level.into(), message);
        Ok(())
    }
}
