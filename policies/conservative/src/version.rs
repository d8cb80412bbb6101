//! Semver majors of version tags such as `v1.2.3`.

/// Does a change from `current` to `new` cross a major version?
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Major {
    /// Same major version.
    Same,
    /// The majors differ (up or down).
    Differs,
    /// One of the versions is not semver, so nobody can tell.
    Unknown,
}

/// The semver major of a version: `v1.2.3`, `1.2.3`, `v2`, `1.0.0-rc.1`
/// and `1.2.3+build` have one; `latest` or a commit id do not.
pub fn major(version: &str) -> Option<u64> {
    let digits = version.strip_prefix(['v', 'V']).unwrap_or(version);
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let rest = &digits[end..];
    if end == 0 || !(rest.is_empty() || rest.starts_with(['.', '-', '+'])) {
        return None;
    }
    digits[..end].parse().ok()
}

/// Compares the majors of `current` and `new`.
pub fn compare(current: &str, new: &str) -> Major {
    if current == new {
        return Major::Same;
    }
    match (major(current), major(new)) {
        (Some(a), Some(b)) if a == b => Major::Same,
        (Some(_), Some(_)) => Major::Differs,
        _ => Major::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_of_common_tags() {
        assert_eq!(major("v1.2.3"), Some(1));
        assert_eq!(major("1.2.3"), Some(1));
        assert_eq!(major("V2"), Some(2));
        assert_eq!(major("v10.0.0-rc.1"), Some(10));
        assert_eq!(major("3.0.0+build.5"), Some(3));
        for none in ["latest", "", "v", "vx.1", "1a.2", "abc1234", "release-1.2"] {
            assert_eq!(major(none), None, "{none}");
        }
    }

    #[test]
    fn comparisons() {
        assert_eq!(compare("v1.2.3", "v1.9.0"), Major::Same);
        assert_eq!(compare("v1.9.0", "v2.0.0"), Major::Differs);
        assert_eq!(compare("v2.0.0", "v1.9.0"), Major::Differs);
        assert_eq!(compare("latest", "v1.0.0"), Major::Unknown);
        assert_eq!(compare("abc1234", "abc1234"), Major::Same);
    }
}
