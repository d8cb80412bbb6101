//! The reads the simulators make on every request and every poll,
//! answered in process (gix) instead of by a `git` process each: a
//! branch's head, a commit id, the branches and refs, the default branch,
//! merge bases, a commit as the forges show it, how many files changed.
//!
//! Every promote makes a dozen forge API calls, and each used to start
//! `git` several times (rev-parse, for-each-ref, merge-base, symbolic-ref);
//! the Argo CD simulator started one every poll. On a CI runner's two
//! cores those process starts competed with the jobs they served. A real
//! forge or Argo CD reads its repository in process too.
//!
//! Each function answers `None` when it cannot answer for sure (a name gix
//! does not take, an object it cannot read); the caller then asks `git`,
//! so an answer never differs from git's. Refs are read from the files on
//! every call (a push, a merge or a deletion since is seen), and objects
//! pushed since the repository was opened are found (gix looks for new
//! packs on a miss).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use gix::ObjectId;

use super::forge::CommitInfo;

/// The repository, opened once, with a cache of the objects it read:
/// objects never change, and merge-base walks over the commits a push
/// left loose read the same ones request after request.
#[derive(Debug, Clone)]
pub(crate) struct Reads {
    repo: Arc<Mutex<gix::Repository>>,
}

impl Reads {
    /// Opens `path` (bare or not), `None` when gix cannot.
    pub fn open(path: &Path) -> Option<Self> {
        let options = gix::open::Options::isolated();
        let mut repo = gix::open_opts(path, options).ok()?;
        repo.object_cache_size_if_unset(16 * 1024 * 1024);
        Some(Self {
            repo: Arc::new(Mutex::new(repo)),
        })
    }

    /// The handle, one read at a time (each takes microseconds to a few
    /// milliseconds).
    fn local(&self) -> MutexGuard<'_, gix::Repository> {
        self.repo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The commit `refs/heads/<branch>` points at: `Some(None)` when there
    /// is no such branch.
    pub fn branch_head(&self, branch: &str) -> Option<Option<String>> {
        let repo = self.local();
        let name = format!("refs/heads/{branch}");
        let reference = repo.try_find_reference(name.as_str()).ok()?;
        let Some(mut reference) = reference else {
            return Some(None);
        };
        let id = reference.peel_to_commit().ok()?.id;
        Some(Some(id.to_string()))
    }

    /// The commit a full hex id names (a tag object is peeled), `Some(None)`
    /// when the object is no commit; `None` (git answers) when it is not
    /// found.
    pub fn commit_of_id(&self, hex: &str) -> Option<Option<String>> {
        if hex.len() != 40 {
            return None;
        }
        let id = ObjectId::from_hex(hex.as_bytes()).ok()?;
        let repo = self.local();
        let Ok(object) = repo.find_object(id) else {
            // Missing here may be a pack written a moment ago: let git say.
            return None;
        };
        match object.peel_to_commit() {
            Ok(commit) => Some(Some(commit.id.to_string())),
            Err(_) => Some(None),
        }
    }

    /// Every ref under `prefixes` (`refs/heads/`, `refs/tags/`), sorted by
    /// full name as `git for-each-ref` sorts: its full name, the object it
    /// points at (symbolic refs followed) and, when `kinds`, that object's
    /// type (else empty: reading each object's header is most of the cost).
    pub fn refs(&self, prefixes: &[&str], kinds: bool) -> Option<Vec<(String, String, String)>> {
        let repo = self.local();
        let platform = repo.references().ok()?;
        let mut out = Vec::new();
        for prefix in prefixes {
            for reference in platform.prefixed(*prefix).ok()? {
                let mut reference = reference.ok()?;
                let name = reference.name().as_bstr().to_string();
                let id = reference.follow_to_object().ok()?.detach();
                let kind = match kinds {
                    true => repo.find_header(id).ok()?.kind().to_string(),
                    false => String::new(),
                };
                out.push((name, id.to_string(), kind));
            }
        }
        out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Some(out)
    }

    /// The branch `HEAD` names, short; `Some(None)` when `HEAD` is detached.
    pub fn default_branch(&self) -> Option<Option<String>> {
        let repo = self.local();
        let name = repo.head_name().ok()?;
        Some(name.map(|n| n.shorten().to_string()))
    }

    /// What the forges show of commit `sha` (a full id), as `git log
    /// --format=%H%T%P%an%ae%aI%cn%ce%cI%B` gives it; `None` for a commit
    /// in another encoding (git would re-encode its message).
    pub fn commit_info(&self, sha: &str) -> Option<CommitInfo> {
        let repo = self.local();
        let commit = repo.find_commit(full_id(sha)?).ok()?;
        let decoded = commit.decode().ok()?;
        if decoded.encoding.is_some() {
            return None;
        }
        let (author, committer) = (decoded.author().ok()?, decoded.committer().ok()?);
        let (authored, committed) = (author.time().ok()?, committer.time().ok()?);
        Some(CommitInfo {
            sha: commit.id.to_string(),
            tree: decoded.tree().to_string(),
            parents: decoded.parents().map(|p| p.to_string()).collect(),
            author_name: author.name.to_string(),
            author_email: author.email.to_string(),
            authored_at: crate::time::format_iso_strict(authored.seconds, authored.offset),
            committer_name: committer.name.to_string(),
            committer_email: committer.email.to_string(),
            committed_at: crate::time::format_iso_strict(committed.seconds, committed.offset),
            message: decoded.message.to_string().trim_end().to_owned(),
        })
    }

    /// How many files differ between two commits (full ids), as `git diff
    /// --name-only` counts them; `None` when a file was added or removed
    /// (git may pair the two as one rename).
    pub fn files_changed(&self, old: &str, new: &str) -> Option<usize> {
        use gix::diff::tree::recorder::Change;
        let repo = self.local();
        let tree = |hex: &str| repo.find_commit(full_id(hex)?).ok()?.tree().ok();
        let (old, new) = (tree(old)?, tree(new)?);
        // The plain tree diff: `Repository::diff_tree_to_tree` would first
        // build an index of HEAD's tree for attributes a count never needs.
        // (The git capability's path index makes the same call; simulators
        // import none of Baton's clients, see `sim`.)
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&old.data, old.id.kind()),
            gix::objs::TreeRefIter::from_bytes(&new.data, new.id.kind()),
            gix::diff::tree::State::default(),
            &repo.objects,
            &mut recorder,
        )
        .ok()?;
        let mut files = 0;
        for change in &recorder.records {
            match change {
                Change::Modification {
                    previous_entry_mode,
                    entry_mode,
                    ..
                } => {
                    if previous_entry_mode.is_tree() != entry_mode.is_tree() {
                        return None;
                    }
                    if !entry_mode.is_tree() {
                        files += 1;
                    }
                }
                Change::Addition { .. } | Change::Deletion { .. } => return None,
            }
        }
        Some(files)
    }

    /// The best merge base of two commits given by full id; `Some(None)`
    /// when they have none.
    pub fn merge_base(&self, a: &str, b: &str) -> Option<Option<String>> {
        let a = full_id(a)?;
        let b = full_id(b)?;
        let repo = self.local();
        // Both must be here: gix's walk skips a commit it cannot find (and
        // would answer "no base"), so one pushed a moment ago is left to git.
        for id in [a, b] {
            repo.find_commit(id).ok()?;
        }
        let base = repo.merge_base(a, b).ok()?;
        Some(base.map(|id| id.to_string()))
    }
}

fn full_id(hex: &str) -> Option<ObjectId> {
    (hex.len() == 40)
        .then(|| ObjectId::from_hex(hex.as_bytes()).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// A repository with `main` (two commits), `topic` off its first,
    /// an annotated tag and a symbolic branch.
    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        git(d, &["commit", "-q", "--allow-empty", "-m", "one"]);
        git(d, &["branch", "topic"]);
        let out = Command::new("git")
            .arg("-C")
            .arg(d)
            .args([
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "two\n\nbody line",
                "--author=A U <a@u>",
            ])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_DATE", "1709623984 +0530")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .env("GIT_COMMITTER_DATE", "1709623984 -0700")
            .status()
            .expect("git runs");
        assert!(out.success());
        git(d, &["checkout", "-q", "topic"]);
        git(d, &["commit", "-q", "--allow-empty", "-m", "three"]);
        git(d, &["checkout", "-q", "main"]);
        git(d, &["tag", "-a", "-m", "v1", "v1", "main"]);
        git(d, &["symbolic-ref", "refs/heads/alias", "refs/heads/main"]);
        dir
    }

    #[test]
    fn answers_as_git_answers() {
        let dir = repo();
        let d = dir.path();
        let reads = Reads::open(d).expect("opens");
        let main = git(d, &["rev-parse", "main"]);
        let topic = git(d, &["rev-parse", "topic"]);
        assert_eq!(reads.branch_head("main"), Some(Some(main.clone())));
        assert_eq!(reads.branch_head("gone"), Some(None));
        assert_eq!(reads.branch_head("alias"), Some(Some(main.clone())));

        let tag = git(d, &["rev-parse", "v1"]);
        assert_ne!(tag, main, "an annotated tag is its own object");
        assert_eq!(reads.commit_of_id(&tag), Some(Some(main.clone())));
        let tree = git(d, &["rev-parse", "main^{tree}"]);
        assert_eq!(reads.commit_of_id(&tree), Some(None));
        assert_eq!(reads.commit_of_id("main"), None, "names are left to git");

        let listed = git(
            d,
            &[
                "for-each-ref",
                "--sort=refname",
                "--format=%(refname)%00%(objectname)%00%(objecttype)",
                "refs/heads",
                "refs/tags",
            ],
        );
        let want: Vec<(String, String, String)> = listed
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\0').collect();
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
            })
            .collect();
        assert_eq!(
            reads.refs(&["refs/heads/", "refs/tags/"], true),
            Some(want),
            "{listed}"
        );

        assert_eq!(reads.default_branch(), Some(Some("main".to_owned())));
        let logged = git(
            d,
            &[
                "log",
                "-1",
                "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B",
                &main,
            ],
        );
        let info = reads.commit_info(&main).expect("read");
        let fields = [
            info.sha.clone(),
            info.tree.clone(),
            info.parents.join(" "),
            info.author_name.clone(),
            info.author_email.clone(),
            info.authored_at.clone(),
            info.committer_name.clone(),
            info.committer_email.clone(),
            info.committed_at.clone(),
            info.message.clone(),
        ];
        assert_eq!(fields.join("\0"), logged);
        let base = git(d, &["merge-base", &main, &topic]);
        assert_eq!(reads.merge_base(&main, &topic), Some(Some(base)));
        assert_eq!(reads.merge_base(&main, &main), Some(Some(main.clone())));
    }

    #[test]
    fn sees_what_git_writes_after_it_opened() {
        let dir = repo();
        let d = dir.path();
        let reads = Reads::open(d).expect("opens");
        git(d, &["commit", "-q", "--allow-empty", "-m", "four"]);
        let main = git(d, &["rev-parse", "main"]);
        assert_eq!(reads.branch_head("main"), Some(Some(main.clone())));
        assert_eq!(reads.commit_of_id(&main), Some(Some(main)));
        git(d, &["pack-refs", "--all"]);
        git(d, &["branch", "-D", "topic"]);
        assert_eq!(reads.branch_head("topic"), Some(None));
        git(d, &["checkout", "-q", "--detach"]);
        assert_eq!(reads.default_branch(), Some(None));
    }

    #[test]
    fn counts_changed_files_as_git_diff_does() {
        let dir = repo();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).expect("dirs");
        for f in ["a/b/one", "a/two", "three"] {
            std::fs::write(d.join(f), "x\n").expect("write");
        }
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "files"]);
        let before = git(d, &["rev-parse", "HEAD"]);
        std::fs::write(d.join("a/b/one"), "y\n").expect("write");
        std::fs::write(d.join("three"), "y\n").expect("write");
        git(d, &["commit", "-q", "-am", "two changed"]);
        let after = git(d, &["rev-parse", "HEAD"]);
        let reads = Reads::open(d).expect("opens");
        let listed = git(d, &["diff", "--name-only", &before, &after]);
        assert_eq!(listed.lines().count(), 2);
        assert_eq!(reads.files_changed(&before, &after), Some(2));
        assert_eq!(reads.files_changed(&after, &after), Some(0));
        git(d, &["mv", "a/two", "a/moved"]);
        git(d, &["commit", "-q", "-m", "renamed"]);
        let moved = git(d, &["rev-parse", "HEAD"]);
        assert_eq!(reads.files_changed(&after, &moved), None, "left to git");
    }

    #[test]
    fn unrelated_histories_have_no_merge_base() {
        let dir = repo();
        let d = dir.path();
        git(d, &["checkout", "-q", "--orphan", "other"]);
        git(d, &["commit", "-q", "--allow-empty", "-m", "alone"]);
        let reads = Reads::open(d).expect("opens");
        let main = git(d, &["rev-parse", "main"]);
        let other = git(d, &["rev-parse", "other"]);
        assert_eq!(reads.merge_base(&main, &other), Some(None));
    }
}
