//! The newest record of each app in an audit directory, so that chaining a
//! new record reads one record instead of every record the directory holds.
//!
//! A record is chained to its app's newest record in the same directory
//! (by `started_at`, then run id). Finding it by reading and parsing every
//! `.json` file made each run's cost grow with the directory: a shared
//! runner's audit directory (`--audit-log` pointing at one place for every
//! job) holds thousands of records, and each run parsed all of them.
//!
//! - `<dir>/.baton-heads` names, per app, its newest record: `app`,
//!   `started_at`, run id, digest and file name, tab-separated, one line
//!   per app. It is rewritten whole (written aside, then renamed).
//! - Writers hold an OS file lock on the directory itself (`flock`) from
//!   reading the head to renaming the new record into place, so two runs
//!   writing to one directory at once each see the other's record (the
//!   kernel releases the lock of a killed writer; no lock file is left). A
//!   directory that cannot be locked (or not within 30 s) is written as a
//!   lone writer would.
//! - A head is believed only when its file is there with that digest; an
//!   app without a head, or with one that does not check out (the record
//!   was removed or altered, or the directory was written by an older
//!   baton), is found by reading every record, as before, and the head is
//!   learnt from that.
//! - Records copied into the directory by hand are not seen until the
//!   next full read; `baton audit verify` reads them all regardless.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::integrity::digest;
use crate::flock::{Waited, lock_until};

/// The heads file's name in an audit directory.
const HEADS: &str = ".baton-heads";

/// The longest a writer waits for another (whose write takes milliseconds)
/// before writing its record as a lone writer would.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// One app's newest record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    started_at: String,
    run: String,
    digest: String,
    file: String,
}

impl Head {
    /// The order records are chained in.
    fn key(&self) -> (SystemTime, &str) {
        (started(&self.started_at), &self.run)
    }
}

fn started(text: &str) -> SystemTime {
    crate::time::parse_rfc3339(text).unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The heads of one audit directory, locked for one record's write.
pub(super) struct Heads {
    dir: PathBuf,
    entries: BTreeMap<String, Head>,
    /// `None` where the directory cannot be locked: the record is still
    /// written, chained as a lone writer would chain it.
    _lock: Option<File>,
}

impl Heads {
    /// Locks the heads of `dir` (waiting for another writer) and reads
    /// them; heads that cannot be read are none (every record is read).
    pub(super) fn lock(dir: &Path) -> Self {
        let started = Instant::now();
        let lock = File::open(dir)
            .map_err(Waited::Failed)
            .and_then(|file| lock_until(file, started, started + LOCK_WAIT, None));
        if let Err(why) = &lock {
            tracing::warn!(?why, dir = %dir.display(), "writing the audit record without the directory lock");
        }
        let entries = match std::fs::read_to_string(dir.join(HEADS)) {
            Ok(text) => parse(&text),
            Err(err) => {
                if err.kind() != std::io::ErrorKind::NotFound {
                    tracing::debug!(%err, dir = %dir.display(), "cannot read the audit heads");
                }
                BTreeMap::new()
            }
        };
        Self {
            dir: dir.to_owned(),
            entries,
            _lock: lock.ok(),
        }
    }

    /// The digest and run id of `app`'s newest record in the directory.
    pub(super) fn previous(&mut self, app: &str) -> Option<(String, String)> {
        if let Some(head) = self.entries.get(app)
            && self.checks_out(head)
        {
            return Some((head.digest.clone(), head.run.clone()));
        }
        tracing::debug!(app, dir = %self.dir.display(), "reading every audit record for the app's newest");
        match newest_by_reading(&self.dir, app) {
            Some(head) => {
                let previous = (head.digest.clone(), head.run.clone());
                self.entries.insert(app.to_owned(), head);
                Some(previous)
            }
            None => {
                self.entries.remove(app);
                None
            }
        }
    }

    /// Whether `head`'s file is in the directory with its digest.
    fn checks_out(&self, head: &Head) -> bool {
        std::fs::read(self.dir.join(&head.file))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .is_some_and(|record| digest(&record) == head.digest)
    }

    /// Notes `record` (written as `file` in the directory) as its app's
    /// head when it is the newest, and saves the heads. Heads that cannot
    /// be saved are removed: a stale head would chain the next record past
    /// this one, a missing one only makes the next writer read every record.
    pub(super) fn advance(&mut self, record: &Value, file: &str) {
        let Some(candidate) = head_of(record, file) else {
            return;
        };
        let app = app_of(record).unwrap_or_default().to_owned();
        let newer = self
            .entries
            .get(&app)
            .is_none_or(|head| candidate.key() > head.key());
        if !newer {
            return;
        }
        self.entries.insert(app, candidate);
        if let Err(err) = self.save() {
            let path = self.dir.join(HEADS);
            tracing::warn!(%err, path = %path.display(), "cannot save the audit heads; the next run reads every record");
            if let Err(err) = std::fs::remove_file(&path)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(%err, path = %path.display(), "cannot remove the stale audit heads");
            }
        }
    }

    fn save(&self) -> std::io::Result<()> {
        let mut text = String::new();
        for (app, h) in &self.entries {
            let fields = [app.as_str(), &h.started_at, &h.run, &h.digest, &h.file];
            if fields.iter().any(|f| f.contains(['\t', '\n'])) {
                continue;
            }
            text.push_str(&fields.join("\t"));
            text.push('\n');
        }
        let tmp = self
            .dir
            .join(format!("{HEADS}.{}.partial", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.dir.join(HEADS))
    }
}

/// Lines `app started_at run digest file`; others are skipped.
fn parse(text: &str) -> BTreeMap<String, Head> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            let (app, started_at, run, digest, file) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            if f.next().is_some() || file.contains(['/', '\\']) || file.is_empty() {
                return None;
            }
            Some((
                app.to_owned(),
                Head {
                    started_at: started_at.to_owned(),
                    run: run.to_owned(),
                    digest: digest.to_owned(),
                    file: file.to_owned(),
                },
            ))
        })
        .collect()
}

fn app_of(record: &Value) -> Option<&str> {
    record.pointer("/command/app").and_then(Value::as_str)
}

/// What the heads file says of `record`, written as `file`; `None` for a
/// value that is not a record of this schema.
fn head_of(record: &Value, file: &str) -> Option<Head> {
    if record.get("schema").and_then(Value::as_str) != Some(super::SCHEMA) {
        return None;
    }
    app_of(record)?;
    Some(Head {
        started_at: record
            .get("started_at")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        run: record
            .get("run_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        digest: digest(record),
        file: file.to_owned(),
    })
}

/// `app`'s newest record in `dir`, every record read. Files that are not
/// records are ignored.
fn newest_by_reading(dir: &Path, app: &str) -> Option<Head> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut newest: Option<Head> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(head) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|record| app_of(record) == Some(app))
            .and_then(|record| head_of(&record, file))
        else {
            continue;
        };
        if newest.as_ref().is_none_or(|n| head.key() > n.key()) {
            newest = Some(head);
        }
    }
    newest
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use serde_json::json;

    use super::*;

    fn record(app: &str, second: usize, run: &str) -> Value {
        json!({
            "schema": super::super::SCHEMA,
            "command": { "app": app },
            "started_at": format!("2026-01-01T00:{:02}:{:02}Z", second / 60, second % 60),
            "run_id": run,
        })
    }

    /// What `AuditRecord::write_sealed` does with the heads, for a record
    /// made by `make` while the heads are held.
    fn write(dir: &Path, file: &str, make: impl FnOnce() -> Value) -> Value {
        let mut heads = Heads::lock(dir);
        let mut value = make();
        let app = app_of(&value).expect("app").to_owned();
        value["integrity"] = json!({ "previous": heads.previous(&app).map(|p| p.0) });
        std::fs::write(dir.join(file), value.to_string()).expect("write");
        heads.advance(&value, file);
        value
    }

    fn previous_of(value: &Value) -> Option<&str> {
        value["integrity"]["previous"].as_str()
    }

    #[test]
    fn each_record_chains_to_its_apps_record_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a1 = write(dir.path(), "a-1.json", || record("a", 1, "r1"));
        let b1 = write(dir.path(), "b-1.json", || record("b", 2, "r2"));
        let a2 = write(dir.path(), "a-2.json", || record("a", 3, "r3"));
        let a3 = write(dir.path(), "a-3.json", || record("a", 4, "r4"));
        assert_eq!(previous_of(&a1), None);
        assert_eq!(previous_of(&b1), None);
        assert_eq!(previous_of(&a2), Some(digest(&a1).as_str()));
        assert_eq!(previous_of(&a3), Some(digest(&a2).as_str()));
        let heads = std::fs::read_to_string(dir.path().join(HEADS)).expect("heads");
        assert_eq!(
            heads,
            format!(
                "a\t2026-01-01T00:00:04Z\tr4\t{}\ta-3.json\nb\t2026-01-01T00:00:02Z\tr2\t{}\tb-1.json\n",
                digest(&a3),
                digest(&b1)
            )
        );
    }

    #[test]
    fn a_directory_without_heads_is_read_once_then_its_head_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let older = record("a", 1, "r1");
        let newer = record("a", 5, "r2");
        for (file, value) in [("x.json", &newer), ("y.json", &older)] {
            std::fs::write(dir.path().join(file), value.to_string()).expect("write");
        }
        std::fs::write(dir.path().join("notes.json"), "not json").expect("write");
        let next = write(dir.path(), "z.json", || record("a", 9, "r3"));
        assert_eq!(previous_of(&next), Some(digest(&newer).as_str()));
        // A record put in by hand after that is not looked for: the head
        // names the newest record, and only it is read.
        std::fs::write(dir.path().join("w.json"), record("a", 10, "r4").to_string())
            .expect("write");
        let after = write(dir.path(), "v.json", || record("a", 11, "r5"));
        assert_eq!(previous_of(&after), Some(digest(&next).as_str()));
    }

    #[test]
    fn a_head_whose_record_was_altered_or_removed_is_not_believed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = write(dir.path(), "a-1.json", || record("a", 1, "r1"));
        let mut second = write(dir.path(), "a-2.json", || record("a", 2, "r2"));
        second["outcome"] = json!("altered");
        std::fs::write(dir.path().join("a-2.json"), second.to_string()).expect("alter");
        let third = write(dir.path(), "a-3.json", || record("a", 3, "r3"));
        assert_eq!(previous_of(&third), Some(digest(&second).as_str()));

        std::fs::remove_file(dir.path().join("a-3.json")).expect("remove");
        std::fs::remove_file(dir.path().join("a-2.json")).expect("remove");
        let fourth = write(dir.path(), "a-4.json", || record("a", 4, "r4"));
        assert_eq!(previous_of(&fourth), Some(digest(&first).as_str()));
    }

    #[test]
    fn lines_that_are_not_heads_are_skipped() {
        let text = "a\tt\tr\td\ta.json\nshort\tline\nb\tt\tr\td\t../escape.json\n\
                    c\tt\tr\td\tc.json\textra\n";
        let heads = parse(text);
        assert_eq!(heads.keys().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn writers_in_one_directory_at_once_take_turns_and_form_one_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(8));
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (dir, clock, start) = (dir.path().to_owned(), clock.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    (0..5)
                        .map(|i| {
                            write(&dir, &format!("a-{w}-{i}.json"), || {
                                let second = clock.fetch_add(1, Ordering::SeqCst);
                                record("a", second, &format!("r{w}-{i}"))
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Value> = writers
            .into_iter()
            .flat_map(|w| w.join().expect("writer"))
            .collect();
        all.sort_by_key(|r| r["started_at"].as_str().map(str::to_owned));
        assert_eq!(previous_of(&all[0]), None);
        for pair in all.windows(2) {
            assert_eq!(
                previous_of(&pair[1]),
                Some(digest(&pair[0]).as_str()),
                "{}",
                pair[1]
            );
        }
    }
}
