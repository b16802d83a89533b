//! The statements, rendered once per store for its database and table.

use crate::{Backend, CLEAR_BATCH};

/// Every statement the store sends.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) load: String,
    pub(crate) row: String,
    pub(crate) exists: String,
    pub(crate) insert: String,
    pub(crate) update: String,
    pub(crate) delete: String,
    pub(crate) clear_batch: String,
    pub(crate) keys_after: String,
    pub(crate) touch: String,
}

impl Statements {
    pub(crate) fn new(backend: Backend, table: &str) -> Statements {
        let (q, p): (&str, fn(usize) -> String) = match backend {
            Backend::Postgres => ("\"", |i| format!("${i}")),
            Backend::Sqlite => ("\"", |_| "?".to_owned()),
            Backend::MySql => ("`", |_| "?".to_owned()),
        };
        let t = format!("{q}{table}{q}");
        let (key, data, exp) = (
            format!("{q}session_key{q}"),
            format!("{q}session_data{q}"),
            format!("{q}expire_date{q}"),
        );
        // What a row's expiry is read as: PostgreSQL's `infinity` and dates beyond what a
        // Rust date can hold come back NULL (the row is then unusable, never a panic);
        // SQLite's column may hold any type, so it is read as text.
        let exp_read = match backend {
            Backend::Postgres => format!(
                "CASE WHEN {exp} > '0001-01-01 00:00:00+00' AND {exp} < '10000-01-01 00:00:00+00' THEN {exp} END"
            ),
            Backend::Sqlite => format!("CAST({exp} AS TEXT)"),
            Backend::MySql => exp.clone(),
        };
        let clear_batch = match backend {
            Backend::MySql => format!("DELETE FROM {t} WHERE {exp} < ? LIMIT {CLEAR_BATCH}"),
            _ => format!(
                "DELETE FROM {t} WHERE {key} IN (SELECT {key} FROM {t} WHERE {exp} < {} LIMIT {CLEAR_BATCH})",
                p(1)
            ),
        };
        Statements {
            load: format!(
                "SELECT {data}, {exp_read} FROM {t} WHERE {key} = {} AND {exp} > {}",
                p(1),
                p(2)
            ),
            row: format!("SELECT {data}, {exp_read} FROM {t} WHERE {key} = {}", p(1)),
            exists: format!("SELECT 1 FROM {t} WHERE {key} = {} LIMIT 1", p(1)),
            insert: format!(
                "INSERT INTO {t} ({key}, {data}, {exp}) VALUES ({}, {}, {})",
                p(1),
                p(2),
                p(3)
            ),
            update: format!(
                "UPDATE {t} SET {data} = {}, {exp} = {} WHERE {key} = {}",
                p(1),
                p(2),
                p(3)
            ),
            delete: format!("DELETE FROM {t} WHERE {key} = {}", p(1)),
            clear_batch,
            touch: format!(
                "UPDATE {t} SET {exp} = {} WHERE {key} = {} AND {exp} > {}",
                p(1),
                p(2),
                p(3)
            ),
            keys_after: format!(
                "SELECT {key} FROM {t} WHERE {key} > {} AND {exp} > {} ORDER BY {key} LIMIT {}",
                p(1),
                p(2),
                p(3)
            ),
        }
    }
}
