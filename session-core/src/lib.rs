#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod codec;
pub mod cookie;
pub mod error;
pub mod expiry;
pub mod instrument;
pub mod key;
pub mod memory;
pub mod migrate;
pub mod session;
pub mod settings;
pub mod store;
pub mod users;
pub mod value;

pub use codec::{Secret, Signer};
pub use error::{ConfigError, DecodeError, Error};
pub use expiry::{
    AbsoluteFrom, Clock, Expiry, ExpiryPolicy, ManualClock, StoredExpiry, SystemClock,
};
pub use session::{Session, SessionConfig};
pub use settings::{CookieSettings, Settings, SettingsGroup, SettingsSource};
pub use store::{DynSessionStore, KeyPage, Record, SessionStore};
pub use value::{Map, Value};
