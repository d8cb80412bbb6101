//! Pointing an error at its line in `baton.yaml`: the parser works on
//! serde values, which have no positions, so a key is looked up in the
//! file's text.

/// 1-based line of `section.field` (e.g. `argocd.token_env`): the first
/// line naming `field` after the top-level `section:` line; 0 when absent.
pub(super) fn in_section(text: &str, dotted: &str) -> usize {
    let Some((section, field)) = dotted.split_once('.') else {
        return 0;
    };
    let header = format!("{section}:");
    let field = format!("{field}:");
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with(&header) {
            inside = true;
        } else if inside && !line.starts_with([' ', '\t', '#']) && !line.trim().is_empty() {
            inside = false;
        }
        if inside && line.trim_start().starts_with(&field) {
            return i + 1;
        }
    }
    0
}

/// 1-based line of the last occurrence of `needle` (0 when absent): a key
/// named in an error is usually its last mention (a duplicate, a bad value).
pub(super) fn last_of(text: &str, needle: &str) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(0)
}

/// 1-based line of the scalar at `path` (`apps.payments.stages[2].name`),
/// found in the YAML syntax tree; 0 when the path is not there (or is not a
/// path Baton's field syntax can write).
pub(super) fn of_path(text: &str, path: &str) -> usize {
    let Ok(field) = format!("yaml:{path}").parse::<crate::capabilities::git::FieldSpec>() else {
        return 0;
    };
    crate::capabilities::git::offset_of(text, &field)
        .map_or(0, |offset| text[..offset].matches('\n').count() + 1)
}

/// `:LINE`, or nothing for an unknown line.
pub(super) fn suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_their_section() {
        let text = "env_repo:\n  token_env: A\nargocd:\n  url: x\n  token_env: B\n";
        assert_eq!(in_section(text, "env_repo.token_env"), 2);
        assert_eq!(in_section(text, "argocd.token_env"), 5);
        assert_eq!(in_section(text, "forge.token_env"), 0);
        assert_eq!(last_of(text, "token_env"), 5);
    }

    #[test]
    fn paths_are_found_in_the_syntax_tree() {
        let text = "apps:\n  p:\n    stages:\n      - { name: dev, field: x }\n      - name: dev\n        field: \"helm:\"\n";
        assert_eq!(of_path(text, "apps.p.stages[0].name"), 4);
        assert_eq!(of_path(text, "apps.p.stages[1].name"), 5);
        assert_eq!(of_path(text, "apps.p.stages[1].field"), 6);
        assert_eq!(of_path(text, "apps.p.stages[2].field"), 0);
    }
}
