//! The documented exit codes: one table, read by `--help`, the audit
//! record's `outcome.exit_code` and the process exit status alike. The
//! README's table is checked against it by a test.

use std::fmt::Write as _;

/// Why `baton` exits, grouped as the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 0: done, or held by the policy.
    Success,
    /// 1: the promotion failed (gate, rollback, the policy said fail, or
    /// cancelled).
    Failed,
    /// 2: usage or configuration error.
    Usage,
    /// 3: the policy failed (trap, limit, invalid decision, digest).
    Policy,
    /// 4: an outside system failed after retries.
    External,
    /// 5: a guardrail refused an action.
    Guardrail,
}

/// Every exit kind with its code and the sentence `--help` and the README
/// print for it, in code order.
pub const EXIT_CODES: &[(ExitKind, u8, &str)] = &[
    (ExitKind::Success, 0, "done, or held by the policy"),
    (
        ExitKind::Failed,
        1,
        "promotion failed (gate failed, rolled back, the policy said fail, or cancelled by \
         SIGTERM; re-run to converge)",
    ),
    (ExitKind::Usage, 2, "usage or configuration error"),
    (
        ExitKind::Policy,
        3,
        "policy error (trap, limit, invalid decision, digest mismatch)",
    ),
    (
        ExitKind::External,
        4,
        "an outside system failed after retries (git, Argo CD, forge)",
    ),
    (ExitKind::Guardrail, 5, "refused by a guardrail"),
];

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        EXIT_CODES
            .iter()
            .find(|(kind, _, _)| *kind == self)
            .map_or(1, |(_, code, _)| *code)
    }

    /// What the code means, as documented.
    pub fn meaning(self) -> &'static str {
        EXIT_CODES
            .iter()
            .find(|(kind, _, _)| *kind == self)
            .map_or("", |(_, _, meaning)| meaning)
    }
}

/// The `Exit codes:` block of `baton --help`.
pub fn help_text() -> String {
    let mut text = String::from("Exit codes:");
    for (_, code, meaning) in EXIT_CODES {
        let _ = write!(text, "\n  {code}  {meaning}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_in_order() {
        let codes: Vec<u8> = EXIT_CODES.iter().map(|(_, c, _)| *c).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5]);
        for (kind, code, _) in EXIT_CODES {
            assert_eq!(kind.code(), *code);
        }
    }

    /// The README's exit-code table says exactly what this table says.
    #[test]
    fn readme_table_matches() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Exit codes")
            .nth(1)
            .expect("README has an Exit codes section");
        let rows: Vec<(u8, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                (cells[0].parse().expect("a code"), cells[1].to_owned())
            })
            .collect();
        let expected: Vec<(u8, String)> = EXIT_CODES
            .iter()
            .map(|(_, c, m)| (*c, (*m).to_owned()))
            .collect();
        assert_eq!(rows, expected);
    }
}
