//! The text Baton writes into a merge request: the title (from a template)
//! and the Markdown description (from -> to version, the policy's reasons,
//! the CI job, the policy digest and the audit record id, and the same
//! `Baton-*` trailers the commits carry). Pure functions: the CI environment
//! is read by the caller and passed in as [`CiEnv`].

use std::fmt::Write as _;

use thiserror::Error;

/// Default title of a promotion MR.
pub const DEFAULT_TITLE: &str = "{stage}({app}): {version}";
/// Default title of a rollback MR.
pub const DEFAULT_ROLLBACK_TITLE: &str = "rollback {stage}({app}): {version}";

/// The CI variables that locate the job running Baton (GitLab CI:
/// `CI_JOB_URL`; GitHub Actions: `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`,
/// `GITHUB_RUN_ID`). Empty values count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiEnv {
    /// `CI_JOB_URL`.
    pub ci_job_url: Option<String>,
    /// `GITHUB_SERVER_URL`.
    pub github_server_url: Option<String>,
    /// `GITHUB_REPOSITORY` (`owner/repo`).
    pub github_repository: Option<String>,
    /// `GITHUB_RUN_ID`.
    pub github_run_id: Option<String>,
}

impl CiEnv {
    /// The job's URL, GitLab's first; `None` outside CI.
    pub fn job_url(&self) -> Option<String> {
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        if let Some(url) = present(&self.ci_job_url) {
            return Some(url);
        }
        let server = present(&self.github_server_url)?;
        let repo = present(&self.github_repository)?;
        let run = present(&self.github_run_id)?;
        Some(format!(
            "{}/{repo}/actions/runs/{run}",
            server.trim_end_matches('/')
        ))
    }
}

/// Title templates; placeholders `{stage}`, `{app}`, `{version}`, `{from}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleTemplates {
    /// For promotions.
    pub promote: String,
    /// For rollbacks.
    pub rollback: String,
}

impl Default for TitleTemplates {
    fn default() -> Self {
        Self {
            promote: DEFAULT_TITLE.to_owned(),
            rollback: DEFAULT_ROLLBACK_TITLE.to_owned(),
        }
    }
}

/// What one MR is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MrFacts {
    /// Application name.
    pub app: String,
    /// Stage (environment) being changed.
    pub stage: String,
    /// Version the stage runs now; `None` on a first deployment.
    pub from_version: Option<String>,
    /// Version the MR sets.
    pub to_version: String,
    /// `Some(bad version)` when this MR rolls back to `to_version`.
    pub rollback_of: Option<String>,
    /// The policy's stated reasons, in order.
    pub reasons: Vec<String>,
    /// Policy digest, `sha256:…`.
    pub policy_digest: String,
    /// Audit record (run) id.
    pub audit_record_id: String,
    /// Link to the CI job, from [`CiEnv::job_url`].
    pub ci_job_url: Option<String>,
}

/// A title template names a placeholder that does not exist or is unclosed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TitleTemplateError {
    /// `{name}` is not one of `stage`, `app`, `version`, `from`.
    #[error("unknown placeholder `{{{name}}}` in MR title template `{template}`")]
    UnknownPlaceholder {
        /// The template.
        template: String,
        /// The unknown name.
        name: String,
    },
    /// A `{` without its `}`.
    #[error("unclosed `{{` in MR title template `{template}`")]
    Unclosed {
        /// The template.
        template: String,
    },
}

/// Renders the title for `facts` with the matching template.
pub fn title(templates: &TitleTemplates, facts: &MrFacts) -> Result<String, TitleTemplateError> {
    let template = if facts.rollback_of.is_some() {
        &templates.rollback
    } else {
        &templates.promote
    };
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| TitleTemplateError::Unclosed {
                template: template.clone(),
            })?;
        let value = match &after[..close] {
            "stage" => facts.stage.as_str(),
            "app" => facts.app.as_str(),
            "version" => facts.to_version.as_str(),
            "from" => facts.from_version.as_deref().unwrap_or("none"),
            name => {
                return Err(TitleTemplateError::UnknownPlaceholder {
                    template: template.clone(),
                    name: name.to_owned(),
                });
            }
        };
        out.push_str(value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders the Markdown description.
pub fn description(facts: &MrFacts) -> String {
    let from = facts.from_version.as_deref().unwrap_or("(none)");
    let mut out = String::new();
    // `write!` into a String cannot fail.
    match &facts.rollback_of {
        Some(bad) => {
            let _ = writeln!(
                out,
                "**Rollback** of `{}` in `{}`: `{from}` -> `{}` (rolls back `{bad}`).",
                facts.app, facts.stage, facts.to_version
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Promote `{}` in `{}`: `{from}` -> `{}`.",
                facts.app, facts.stage, facts.to_version
            );
        }
    }
    if !facts.reasons.is_empty() {
        out.push_str("\n### Why\n\n");
        for reason in &facts.reasons {
            let _ = writeln!(out, "- {}", reason.trim().replace('\n', "\n  "));
        }
    }
    out.push_str("\n| | |\n|---|---|\n");
    if let Some(url) = &facts.ci_job_url {
        let _ = writeln!(out, "| CI job | {url} |");
    }
    let _ = writeln!(out, "| Policy | `{}` |", facts.policy_digest);
    let _ = writeln!(out, "| Audit record | `{}` |", facts.audit_record_id);
    out.push_str("\n---\nOpened by Baton.\n\n");
    let _ = writeln!(out, "Baton-Policy: {}", facts.policy_digest);
    let _ = writeln!(out, "Baton-Run: {}", facts.audit_record_id);
    if let Some(bad) = &facts.rollback_of {
        let _ = writeln!(out, "Baton-Rollback-Of: {bad}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> MrFacts {
        MrFacts {
            app: "payments".into(),
            stage: "staging".into(),
            from_version: Some("1.2.2".into()),
            to_version: "1.2.3".into(),
            rollback_of: None,
            reasons: vec![
                "dev healthy for 10m at abc123".into(),
                "no open incidents".into(),
            ],
            policy_digest: "sha256:0f1e".into(),
            audit_record_id: "run-42".into(),
            ci_job_url: Some("https://gitlab.example.com/g/app/-/jobs/7".into()),
        }
    }

    #[test]
    fn default_titles() {
        let t = TitleTemplates::default();
        assert_eq!(
            title(&t, &facts()).expect("title"),
            "staging(payments): 1.2.3"
        );
        let rb = MrFacts {
            to_version: "1.2.2".into(),
            rollback_of: Some("1.2.3".into()),
            ..facts()
        };
        assert_eq!(
            title(&t, &rb).expect("title"),
            "rollback staging(payments): 1.2.2"
        );
    }

    #[test]
    fn custom_template_and_errors() {
        let t = TitleTemplates {
            promote: "chore: {app} {from} -> {version} [{stage}]".into(),
            ..Default::default()
        };
        assert_eq!(
            title(&t, &facts()).expect("title"),
            "chore: payments 1.2.2 -> 1.2.3 [staging]"
        );
        let bad = TitleTemplates {
            promote: "{application}".into(),
            ..Default::default()
        };
        let err = title(&bad, &facts()).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown placeholder `{application}` in MR title template `{application}`"
        );
        let open = TitleTemplates {
            promote: "x {app".into(),
            ..Default::default()
        };
        assert_eq!(
            title(&open, &facts()),
            Err(TitleTemplateError::Unclosed {
                template: "x {app".into()
            })
        );
    }

    #[test]
    fn promotion_description() {
        assert_eq!(
            description(&facts()),
            "Promote `payments` in `staging`: `1.2.2` -> `1.2.3`.\n\
             \n### Why\n\n\
             - dev healthy for 10m at abc123\n\
             - no open incidents\n\
             \n| | |\n|---|---|\n\
             | CI job | https://gitlab.example.com/g/app/-/jobs/7 |\n\
             | Policy | `sha256:0f1e` |\n\
             | Audit record | `run-42` |\n\
             \n---\nOpened by Baton.\n\n\
             Baton-Policy: sha256:0f1e\n\
             Baton-Run: run-42\n"
        );
    }

    #[test]
    fn rollback_description_says_so() {
        let rb = MrFacts {
            from_version: Some("1.2.3".into()),
            to_version: "1.2.2".into(),
            rollback_of: Some("1.2.3".into()),
            reasons: vec![],
            ci_job_url: None,
            ..facts()
        };
        let d = description(&rb);
        assert!(d.starts_with(
            "**Rollback** of `payments` in `staging`: `1.2.3` -> `1.2.2` (rolls back `1.2.3`).\n"
        ));
        assert!(d.ends_with("Baton-Rollback-Of: 1.2.3\n"));
        assert!(!d.contains("CI job"));
        assert!(!d.contains("### Why"));
    }

    #[test]
    fn first_deploy_has_no_from() {
        let f = MrFacts {
            from_version: None,
            ..facts()
        };
        assert!(
            description(&f).starts_with("Promote `payments` in `staging`: `(none)` -> `1.2.3`.")
        );
    }

    #[test]
    fn ci_job_url_sources() {
        let gl = CiEnv {
            ci_job_url: Some("https://gl/j/1".into()),
            ..Default::default()
        };
        assert_eq!(gl.job_url().as_deref(), Some("https://gl/j/1"));
        let gh = CiEnv {
            ci_job_url: Some(String::new()),
            github_server_url: Some("https://github.com/".into()),
            github_repository: Some("acme/env".into()),
            github_run_id: Some("99".into()),
        };
        assert_eq!(
            gh.job_url().as_deref(),
            Some("https://github.com/acme/env/actions/runs/99")
        );
        let partial = CiEnv {
            github_server_url: Some("https://github.com".into()),
            ..Default::default()
        };
        assert_eq!(partial.job_url(), None);
    }
}
