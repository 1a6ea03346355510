//! Where the logger keeps messages: JSON lines, a SQLite table, or both.
//!
//! Each message is written before the next one is read, and each write is
//! complete on its own — one `write` of a whole line, one SQLite
//! transaction per row — so killing the logger at any moment loses at most
//! the message it was writing, and never leaves half a record behind.
//! (What the server had sent but the logger had not yet read, still in
//! socket buffers, goes with the process: the protocol has no
//! acknowledgements, so no client can keep that.)
//!
//! Why a transaction per row rather than one per burst: the client library
//! cannot tell whether another message is already waiting, so batching
//! would need a second thread and would widen what a crash loses to the
//! whole batch. In WAL mode with `synchronous=NORMAL` a commit is an
//! append to the write-ahead log without an fsync (tens of microseconds),
//! far below the rate of any instrument. The price, as for the JSON file:
//! a power cut (not a crash) may lose the last commits, but the database
//! is never corrupted.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One message as the logger stores it.
pub struct Record {
    /// `say` for a broadcast, `msg` for a private message.
    pub kind: &'static str,
    pub sender: String,
    /// The recipients as the sender wrote them; `None` for a broadcast.
    pub recipients: Option<Vec<String>>,
    /// The server's stamp, spelled as the server sent it
    /// (`2026-11-23T10:15:30.123Z`).
    pub time: String,
    /// The text with its escapes decoded (it may hold line breaks).
    pub text: String,
}

impl Record {
    pub fn say(sender: String, time: DateTime<Utc>, text: String) -> Record {
        Record {
            kind: "say",
            sender,
            recipients: None,
            time: stamp(time),
            text,
        }
    }

    pub fn msg(sender: String, to: Vec<String>, time: DateTime<Utc>, text: String) -> Record {
        Record {
            kind: "msg",
            sender,
            recipients: Some(to),
            time: stamp(time),
            text,
        }
    }
}

/// The server stamps UTC with milliseconds and a `Z`; the library parsed
/// that into a `DateTime`, and this spells it the same way again.
fn stamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Appends one JSON object per line: `{"kind","from","to"?,"time","text"}`.
pub struct JsonLines {
    file: File,
    path: PathBuf,
}

impl JsonLines {
    pub fn open(path: &Path) -> Result<JsonLines, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(JsonLines {
            file,
            path: path.to_owned(),
        })
    }

    pub fn write(&mut self, record: &Record) -> Result<(), String> {
        let mut object = serde_json::json!({
            "kind": record.kind,
            "from": record.sender,
            "time": record.time,
            "text": record.text,
        });
        if let Some(to) = &record.recipients {
            object["to"] = serde_json::json!(to);
        }
        // One write per record, so a reader tailing the file never sees
        // half a line.
        self.file
            .write_all(format!("{object}\n").as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}

/// The table's layout; `user_version` says which one a file holds.
const SCHEMA_VERSION: i64 = 1;
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('say', 'msg')),
    sender     TEXT NOT NULL,
    recipients TEXT,
    time       TEXT NOT NULL,
    text       TEXT NOT NULL
)";
const INSERT: &str = "INSERT INTO messages (kind, sender, recipients, time, text)
    VALUES (?1, ?2, ?3, ?4, ?5)";

/// Inserts one row per message into table `messages`, each in its own
/// transaction (SQLite's autocommit).
pub struct Sqlite {
    db: Connection,
    path: PathBuf,
}

impl Sqlite {
    pub fn open(path: &Path) -> Result<Sqlite, String> {
        let fail = |e: rusqlite::Error| format!("cannot use {} as a database: {e}", path.display());
        let db = Connection::open(path).map_err(fail)?;
        let mode: String = db
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // WAL needs shared memory, which some network file systems lack;
            // the default rollback journal is as safe, only slower.
            eprintln!("logger: {}: journal mode {mode}, not WAL", path.display());
        }
        db.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        let version: i64 = db
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail)?;
        if version > SCHEMA_VERSION {
            return Err(format!(
                "{} was made by a newer logger (schema {version}); use another file",
                path.display()
            ));
        }
        db.execute_batch(SCHEMA).map_err(fail)?;
        db.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(fail)?;
        // A `messages` table of another layout fails here, not at the first
        // message.
        db.prepare_cached(INSERT).map_err(fail)?;
        Ok(Sqlite {
            db,
            path: path.to_owned(),
        })
    }

    pub fn write(&mut self, record: &Record) -> Result<(), String> {
        let recipients = record.recipients.as_ref().map(|to| to.join(","));
        self.db
            .prepare_cached(INSERT)
            .and_then(|mut insert| {
                insert.execute(params![
                    record.kind,
                    record.sender,
                    recipients,
                    record.time,
                    record.text
                ])
            })
            .map(drop)
            .map_err(|e| format!("cannot insert into {}: {e}", self.path.display()))
    }
}

/// Every sink the command line asked for.
pub struct Sinks {
    pub json: Option<JsonLines>,
    pub sqlite: Option<Sqlite>,
}

impl Sinks {
    pub fn write(&mut self, record: &Record) -> Result<(), String> {
        if let Some(json) = &mut self.json {
            json.write(record)?;
        }
        if let Some(sqlite) = &mut self.sqlite {
            sqlite.write(record)?;
        }
        Ok(())
    }

    /// Where messages go, for the start-up line.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(json) = &self.json {
            parts.push(format!("JSON lines to {}", json.path.display()));
        }
        if let Some(sqlite) = &self.sqlite {
            parts.push(format!("SQLite rows to {}", sqlite.path.display()));
        }
        parts.join(" and ")
    }
}
