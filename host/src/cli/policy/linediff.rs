//! Line diffs for people: the longest common subsequence of two lists of
//! lines, shown as `  line` (in both), `- line` (only in the first) and
//! `<extra>line` (only in the second, `+ ` normally). `policy test` pairs
//! expected patterns with actual lines (`*` wildcards); `policy replay`
//! pairs recorded and replayed lines exactly.

/// Diffs `old` against `new`, pairing lines for which `same(old, new)`
/// holds. Returns how many lines were paired and the diff; paired lines
/// are shown as they are in `new`.
pub(super) fn diff(
    old: &[String],
    new: &[String],
    same: impl Fn(&str, &str) -> bool,
    extra: &str,
) -> (usize, Vec<String>) {
    let (n, m) = (old.len(), new.len());
    // lcs[i][j]: length of the longest common subsequence of old[i..], new[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if same(&old[i], &new[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && same(&old[i], &new[j]) {
            lines.push(format!("  {}", new[j]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            lines.push(format!("- {}", old[i]));
            i += 1;
        } else {
            lines.push(format!("{extra}{}", new[j]));
            j += 1;
        }
    }
    (lcs[0][0], lines)
}
