//! Commit messages Baton writes and reads: the subject template, the
//! `Baton-*` trailers, trailer parsing, and the commit identity (from config,
//! CI variables, or the `Baton <baton@localhost>` default).

/// Trailer naming the policy digest (`sha256:…`) that decided a commit.
pub const POLICY: &str = "Baton-Policy";
/// Trailer naming the Baton run that wrote a commit.
pub const RUN: &str = "Baton-Run";
/// Trailer naming the version a rollback commit rolled back.
pub const ROLLBACK_OF: &str = "Baton-Rollback-Of";
/// Trailer naming the image digest promoted with the version
/// (`sha256:…`), whether or not the stage's field holds it.
pub const DIGEST: &str = "Baton-Digest";

/// The default subject template.
pub const DEFAULT_TEMPLATE: &str = "{stage}({app}): {version}";

/// One `Key: value` line of a message's trailer block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// The key, e.g. `Baton-Run`.
    pub key: String,
    /// The value, trimmed.
    pub value: String,
}

/// The trailers of `message`: its last paragraph, if every non-empty line
/// of it is `Token: value` (token of letters, digits and `-`).
pub fn parse_trailers(message: &str) -> Vec<Trailer> {
    let normalized = message.replace("\r\n", "\n");
    let body = normalized.trim_end();
    let Some((_, last)) = body.rsplit_once("\n\n") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in last.lines().filter(|l| !l.trim().is_empty()) {
        let Some((key, value)) = line.split_once(':') else {
            return Vec::new();
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Vec::new();
        }
        out.push(Trailer {
            key: key.to_owned(),
            value: value.trim().to_owned(),
        });
    }
    out
}

/// What a Baton commit records besides the edit itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// `sha256:…` digest of the policy that decided the change.
    pub policy_digest: Option<String>,
    /// The run id.
    pub run_id: Option<String>,
    /// Set when this commit rolls back that version.
    pub rollback_of: Option<String>,
    /// The image digest that goes with the version: written into the
    /// stage's field where it holds one, and recorded as `Baton-Digest`.
    pub digest: Option<String>,
}

impl Provenance {
    /// The trailers in the order Baton writes them.
    pub fn trailers(&self) -> Vec<Trailer> {
        [
            (POLICY, &self.policy_digest),
            (RUN, &self.run_id),
            (ROLLBACK_OF, &self.rollback_of),
            (DIGEST, &self.digest),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref().map(|v| Trailer {
                key: k.to_owned(),
                value: v.clone(),
            })
        })
        .collect()
    }
}

/// Renders the commit message: the template with `{stage}`, `{app}`,
/// `{version}`, `{digest}` and `{rollback_of}` replaced (the last two empty
/// when absent), then the trailer block.
pub fn render_message(
    template: &str,
    app: &str,
    stage: &str,
    version: &str,
    provenance: &Provenance,
) -> String {
    let subject = template
        .replace("{stage}", stage)
        .replace("{app}", app)
        .replace("{version}", version)
        .replace("{digest}", provenance.digest.as_deref().unwrap_or(""))
        .replace(
            "{rollback_of}",
            provenance.rollback_of.as_deref().unwrap_or(""),
        );
    let mut msg = subject.trim_end().to_owned();
    msg.push('\n');
    let trailers = provenance.trailers();
    if !trailers.is_empty() {
        msg.push('\n');
        for t in trailers {
            // A newline in a value would forge extra trailers.
            let value = t.value.replace(['\n', '\r'], " ");
            msg.push_str(&format!("{}: {}\n", t.key, value));
        }
    }
    msg
}

/// Author and committer of Baton's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            name: "Baton".into(),
            email: "baton@localhost".into(),
        }
    }
}

impl Identity {
    /// The identity to commit as: `configured` if given, else the CI's user
    /// (`GITLAB_USER_NAME`/`GITLAB_USER_EMAIL`, then `GITHUB_ACTOR` with its
    /// noreply address), else [`Identity::default`]. `env` looks variables up
    /// (pass `|k| std::env::var(k).ok()`), so tests need no global state.
    pub fn resolve(configured: Option<Identity>, env: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(id) = configured {
            return id;
        }
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(name) = get("GITLAB_USER_NAME") {
            let email = get("GITLAB_USER_EMAIL").unwrap_or_else(|| Self::default().email);
            return Self { name, email };
        }
        if let Some(actor) = get("GITHUB_ACTOR") {
            return Self {
                email: format!("{actor}@users.noreply.github.com"),
                name: actor,
            };
        }
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trips_trailers() {
        let p = Provenance {
            policy_digest: Some("sha256:abc".into()),
            run_id: Some("run-7".into()),
            rollback_of: Some("v1.2.4".into()),
            digest: None,
        };
        let msg = render_message(DEFAULT_TEMPLATE, "payments", "dev", "v1.2.3", &p);
        assert_eq!(
            msg,
            "dev(payments): v1.2.3\n\nBaton-Policy: sha256:abc\nBaton-Run: run-7\nBaton-Rollback-Of: v1.2.4\n"
        );
        assert_eq!(parse_trailers(&msg), p.trailers());
        let with_digest = Provenance {
            digest: Some("sha256:0123".into()),
            ..p
        };
        let msg = render_message(
            "{stage}: {version} {digest}",
            "payments",
            "dev",
            "v1.2.3",
            &with_digest,
        );
        assert_eq!(
            msg,
            "dev: v1.2.3 sha256:0123\n\nBaton-Policy: sha256:abc\nBaton-Run: run-7\nBaton-Rollback-Of: v1.2.4\nBaton-Digest: sha256:0123\n"
        );
        assert_eq!(parse_trailers(&msg), with_digest.trailers());
        assert!(parse_trailers("subject\n\nplain body text\n").is_empty());
        assert!(parse_trailers("only: subject").is_empty());
    }

    #[test]
    fn identity_prefers_config_then_ci() {
        let env = |k: &str| match k {
            "GITLAB_USER_NAME" => Some("Ann".to_owned()),
            "GITLAB_USER_EMAIL" => Some("ann@example.com".to_owned()),
            "GITHUB_ACTOR" => Some("octo".to_owned()),
            _ => None,
        };
        assert_eq!(Identity::resolve(None, env).email, "ann@example.com");
        let gh = |k: &str| (k == "GITHUB_ACTOR").then(|| "octo".to_owned());
        assert_eq!(
            Identity::resolve(None, gh).email,
            "octo@users.noreply.github.com"
        );
        assert_eq!(Identity::resolve(None, |_| None), Identity::default());
        let cfg = Identity {
            name: "Bot".into(),
            email: "b@x".into(),
        };
        assert_eq!(Identity::resolve(Some(cfg.clone()), env), cfg);
    }
}
