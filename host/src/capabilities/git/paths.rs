//! The changed-path index: which files each commit changed against its
//! first parent, kept in `<cache>/baton.paths`, so that a history walk
//! decodes trees only at the commits that changed the file it follows
//! (like git's changed-path Bloom filters, which git turns off in a shallow
//! repository, and a Baton cache is shallow).
//!
//! A record states a fact about immutable objects (a commit id fixes its
//! tree and its parents), so it never goes stale: every process may append
//! the same record, and a record written from one cache's history holds
//! for every later fetch. A walk reads the index once, on its first use,
//! and appends what it learnt in one `write` to the end of the file when it
//! ends (`O_APPEND`: appends of processes sharing the cache do not
//! overwrite each other). Each line carries a checksum of itself, and a
//! reader skips a line that fails it: the torn append of a killed process
//! costs the records it held, never a wrong answer.
//!
//! A line is `<commit> <first parent> <checksum> <path>\t<path>...`, the
//! paths being every file (any non-tree entry) whose entry differs between
//! the two trees. A commit that changed more than [`MAX_PATHS`] files, or a
//! path a line cannot hold (a tab, a newline), is written with `*` instead
//! of its paths: every path counts as changed there, and the walk reads the
//! trees as it would without the index.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Write;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::bstr::{BString, ByteSlice};

/// The index file, in the bare cache.
const FILE: &str = "baton.paths";

/// More changed files than this in one commit are recorded as "all".
const MAX_PATHS: usize = 256;

/// What one commit changed against its first parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changes {
    /// The first parent the paths are relative to.
    pub parent: ObjectId,
    /// The files changed; `None`: too many to list, count every path as
    /// changed.
    paths: Option<Vec<String>>,
}

impl Changes {
    /// Whether the entry at `path` (`/`-separated, no leading `/`) may
    /// differ between the commit and its first parent.
    pub fn touches(&self, path: &str) -> bool {
        self.paths
            .as_ref()
            .is_none_or(|paths| paths.iter().any(|p| p == path))
    }
}

/// The index of one cache, loaded on first use.
#[derive(Debug)]
pub(crate) struct PathIndex {
    file: PathBuf,
    loaded: bool,
    known: HashMap<ObjectId, Changes>,
    /// Lines learnt since the last [`Self::flush`], to append.
    pending: String,
}

impl PathIndex {
    /// The index of the bare cache at `git_dir` (nothing is read yet).
    pub fn new(git_dir: &Path) -> Self {
        Self {
            file: git_dir.join(FILE),
            loaded: false,
            known: HashMap::new(),
            pending: String::new(),
        }
    }

    /// What `commit` changed, when a walk recorded it before.
    pub fn get(&mut self, commit: ObjectId) -> Option<&Changes> {
        self.load();
        self.known.get(&commit)
    }

    /// Computes what `commit` (tree `tree`) changed against its first
    /// parent `parent` (tree `parent_tree`), and records it.
    pub fn learn(
        &mut self,
        repo: &gix::Repository,
        commit: ObjectId,
        tree: ObjectId,
        parent: ObjectId,
        parent_tree: ObjectId,
    ) -> Result<&Changes, gix::Error> {
        let paths = changed_paths(repo, parent_tree, tree)?;
        let changes = Changes { parent, paths };
        self.pending.push_str(&line(commit, &changes));
        self.pending.push('\n');
        // What was just computed wins over a record naming another parent.
        Ok(match self.known.entry(commit) {
            Entry::Occupied(mut known) => {
                known.insert(changes);
                known.into_mut()
            }
            Entry::Vacant(slot) => slot.insert(changes),
        })
    }

    /// Appends what was learnt since the last flush to the file, in one
    /// write. The index is a cache: a failure is logged and forgotten.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.pending);
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .and_then(|mut f| f.write_all(lines.as_bytes()));
        if let Err(err) = appended {
            tracing::debug!(%err, file = %self.file.display(), "changed-path index not written");
        }
    }

    fn load(&mut self) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        let Ok(text) = std::fs::read(&self.file) else {
            return;
        };
        let mut skipped = 0usize;
        for raw in text.split(|b| *b == b'\n') {
            if raw.is_empty() {
                continue;
            }
            match parse(raw) {
                Some((commit, changes)) => {
                    self.known.insert(commit, changes);
                }
                None => skipped += 1,
            }
        }
        if skipped > 0 {
            tracing::debug!(skipped, file = %self.file.display(), "changed-path index: lines skipped");
        }
    }
}

/// The files whose entries differ between the trees `old` and `new`;
/// `None` past [`MAX_PATHS`] or for a path a line cannot hold.
fn changed_paths(
    repo: &gix::Repository,
    old: ObjectId,
    new: ObjectId,
) -> Result<Option<Vec<String>>, gix::Error> {
    let (old, new) = (repo.find_tree(old)?, repo.find_tree(new)?);
    let mut recorder = gix::diff::tree::Recorder::default();
    gix::diff::tree(
        gix::objs::TreeRefIter::from_bytes(&old.data, old.id.kind()),
        gix::objs::TreeRefIter::from_bytes(&new.data, new.id.kind()),
        gix::diff::tree::State::default(),
        &repo.objects,
        &mut recorder,
    )
    .map_err(gix::Error::from_error)?;
    use gix::diff::tree::recorder::Change;
    let mut paths = Vec::new();
    for change in &recorder.records {
        let (mode, path) = match change {
            Change::Addition {
                entry_mode, path, ..
            }
            | Change::Deletion {
                entry_mode, path, ..
            } => (*entry_mode, path),
            Change::Modification {
                entry_mode,
                previous_entry_mode,
                path,
                ..
            } => {
                // A tree that became a file (or back) changes the file.
                let mode = if entry_mode.is_tree() {
                    *previous_entry_mode
                } else {
                    *entry_mode
                };
                (mode, path)
            }
        };
        if mode.is_tree() {
            // Its files are reported one by one.
            continue;
        }
        if paths.len() == MAX_PATHS {
            return Ok(None);
        }
        match storable(path) {
            Some(p) => paths.push(p),
            None => return Ok(None),
        }
    }
    Ok(Some(paths))
}

/// `path` as a line holds it: UTF-8, no tab or newline.
fn storable(path: &BString) -> Option<String> {
    let text = path.to_str().ok()?;
    (!text.contains(['\t', '\n', '\r'])).then(|| text.to_owned())
}

/// The line of a record, without its newline.
fn line(commit: ObjectId, changes: &Changes) -> String {
    let paths = match &changes.paths {
        Some(paths) => paths.join("\t"),
        None => "*".to_owned(),
    };
    let body = format!("{commit} {} {paths}", changes.parent);
    let sum = checksum(&body);
    format!("{commit} {} {sum:016x} {paths}", changes.parent)
}

/// A record's line back, when it is whole and its checksum holds.
fn parse(raw: &[u8]) -> Option<(ObjectId, Changes)> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut fields = text.splitn(4, ' ');
    let (commit, parent, sum, paths) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let body = format!("{commit} {parent} {paths}");
    if u64::from_str_radix(sum, 16).ok()? != checksum(&body) || sum.len() != 16 {
        return None;
    }
    let commit = ObjectId::from_hex(commit.as_bytes()).ok()?;
    let parent = ObjectId::from_hex(parent.as_bytes()).ok()?;
    let paths = match paths {
        "*" => None,
        "" => Some(Vec::new()),
        list => Some(list.split('\t').map(str::to_owned).collect()),
    };
    Some((commit, Changes { parent, paths }))
}

/// FNV-1a, 64 bits: catches torn and interleaved appends (the cache is
/// trusted as much as the objects next to it; this is not a signature).
fn checksum(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn changes(parent: u8, paths: Option<&[&str]>) -> Changes {
        Changes {
            parent: id(parent),
            paths: paths.map(|p| p.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn records_survive_the_file_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            (id(1), changes(2, Some(&["apps/a/dev/values.yaml"]))),
            (
                id(2),
                changes(3, Some(&["x.yaml", "dir with space/y.yaml"])),
            ),
            (id(3), changes(4, Some(&[]))),
            (id(4), changes(5, None)),
        ];
        let mut text = String::new();
        for (commit, c) in &records {
            text.push_str(&line(*commit, c));
            text.push('\n');
        }
        // A killed writer's torn line, then a whole one appended after it
        // on the same line; a line whose paths were altered; a bare line.
        let torn = line(id(9), &changes(8, Some(&["apps/b/dev/values.yaml"])));
        text.push_str(&torn[..torn.len() - 7]);
        text.push_str(&line(id(7), &changes(6, Some(&["z.yaml"]))));
        text.push('\n');
        text.push_str(&line(id(6), &changes(5, Some(&["z.yaml"]))).replace("z.yaml", "q.yaml"));
        text.push('\n');
        text.push_str("garbage\n");
        std::fs::write(dir.path().join(FILE), text).unwrap();

        let mut index = PathIndex::new(dir.path());
        for (commit, c) in &records {
            assert_eq!(index.get(*commit), Some(c));
        }
        for skipped in [id(9), id(7), id(6)] {
            assert_eq!(index.get(skipped), None);
        }
        assert!(records[0].1.touches("apps/a/dev/values.yaml"));
        assert!(!records[0].1.touches("apps/a/prod/values.yaml"));
        assert!(!records[2].1.touches("x.yaml"));
        assert!(
            records[3].1.touches("anything.yaml"),
            "`*` touches every path"
        );
    }

    #[test]
    fn a_flush_appends_and_a_new_reader_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = PathIndex::new(dir.path());
        let c = changes(2, Some(&["a.yaml"]));
        first.pending.push_str(&line(id(1), &c));
        first.pending.push('\n');
        first.flush();
        first.flush();
        let mut second = PathIndex::new(dir.path());
        assert_eq!(second.get(id(1)), Some(&c));
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
