//! Where settings come from ([`SettingsSource`]), how a value is parsed ([`SettingValue`]),
//! and the table macro every crate declares its settings with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::codec::Secret;
use crate::error::ConfigError;
use crate::settings::Settings;

/// Where a setting's value came from; names from the environment are not checked against
/// the known settings (the environment holds many other variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A TOML configuration file.
    File,
    /// An environment variable.
    Environment,
    /// Set by the program (command-line flags, tests).
    Code,
}

#[derive(Clone)]
enum RawValue {
    Text(String),
    Toml(toml::Value),
}

/// Raw setting values by Django name, before each crate parses the ones it owns.
///
/// Layers combine with [`overlay`](Self::overlay): a TOML file, then the environment, then
/// flags. `Debug` lists names only, never values (they include secrets and URLs).
#[derive(Clone, Default)]
pub struct SettingsSource {
    values: BTreeMap<String, (RawValue, Origin)>,
    /// Names given with an empty value (taken as unset, but an empty `SECRET_KEY` is refused).
    empty: std::collections::BTreeSet<String>,
}

impl fmt::Debug for SettingsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl SettingsSource {
    /// An empty source: every setting takes its default.
    pub fn new() -> SettingsSource {
        SettingsSource::default()
    }

    /// The top-level keys of a TOML document.
    pub fn from_toml_str(text: &str) -> Result<SettingsSource, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            setting: "configuration file",
            reason: e.message().to_owned(),
        })?;
        Ok(SettingsSource {
            values: table
                .into_iter()
                .map(|(k, v)| (k, (RawValue::Toml(v), Origin::File)))
                .collect(),
            empty: Default::default(),
        })
    }

    /// Every environment variable with a UTF-8 name and value; empty values count as unset.
    pub fn from_env() -> SettingsSource {
        Self::from_text_pairs(std::env::vars(), Origin::Environment)
    }

    /// Name/value pairs set by the program; empty values count as unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> SettingsSource {
        Self::from_text_pairs(pairs, Origin::Code)
    }

    fn from_text_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
        origin: Origin,
    ) -> SettingsSource {
        let mut source = SettingsSource::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            if v.is_empty() {
                source.empty.insert(k);
            } else {
                source.values.insert(k, (RawValue::Text(v), origin));
            }
        }
        source
    }

    /// Sets one value as text (as the environment would), replacing any earlier one.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.values
            .insert(name.into(), (RawValue::Text(value.into()), Origin::Code));
        self
    }

    /// This source with `other`'s values on top.
    pub fn overlay(mut self, other: SettingsSource) -> SettingsSource {
        for k in other.values.keys() {
            self.empty.remove(k);
        }
        for k in &other.empty {
            self.values.remove(k);
        }
        self.values.extend(other.values);
        self.empty.extend(other.empty);
        self
    }

    /// Whether `name` was given, but with an empty value (counted as unset).
    pub fn is_set_empty(&self, name: &str) -> bool {
        self.empty.contains(name)
    }

    /// Whether a value is set under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The names set in a file or by code (not the environment's), for a check against the
    /// settings some crate reads.
    pub fn declared_names(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(_, (_, o))| *o != Origin::Environment)
            .map(|(k, _)| k.as_str())
    }

    /// The value under `name`, parsed; `None` when unset.
    pub fn get<T: SettingValue>(&self, name: &'static str) -> Result<Option<T>, ConfigError> {
        let Some((raw, _)) = self.values.get(name) else {
            return Ok(None);
        };
        let parsed = match raw {
            RawValue::Text(t) => T::from_text(t),
            RawValue::Toml(v) => T::from_toml(v),
        };
        parsed.map(Some).map_err(|reason| ConfigError::Invalid {
            setting: name,
            reason,
        })
    }
}

/// A type a setting can have: parsed from environment text or from a TOML value.
pub trait SettingValue: Sized {
    /// From text (an environment variable, a flag).
    fn from_text(text: &str) -> Result<Self, String>;
    /// From a TOML value; by default a TOML string is read as text.
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(s) => Self::from_text(s),
            other => Err(format!(
                "{other} is not a {}",
                std::any::type_name::<Self>()
            )),
        }
    }
}

impl SettingValue for bool {
    fn from_text(text: &str) -> Result<bool, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(format!("{text:?} is not a boolean")),
        }
    }
    fn from_toml(value: &toml::Value) -> Result<bool, String> {
        match value {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::String(s) => Self::from_text(s),
            other => Err(format!("{other} is not a boolean")),
        }
    }
}

macro_rules! integer_setting {
    ($($t:ty),*) => {$(
        impl SettingValue for $t {
            fn from_text(text: &str) -> Result<$t, String> {
                text.trim().parse().map_err(|_| format!("{text:?} is not a number in range"))
            }
            fn from_toml(value: &toml::Value) -> Result<$t, String> {
                match value {
                    toml::Value::Integer(i) => <$t>::try_from(*i).map_err(|_| format!("{i} is out of range")),
                    toml::Value::String(s) => Self::from_text(s),
                    other => Err(format!("{other} is not a number")),
                }
            }
        }
    )*};
}
integer_setting!(i64, u64, u32, usize);

impl SettingValue for String {
    fn from_text(text: &str) -> Result<String, String> {
        Ok(text.to_owned())
    }
}

impl SettingValue for PathBuf {
    fn from_text(text: &str) -> Result<PathBuf, String> {
        Ok(PathBuf::from(text))
    }
}

impl<T: SettingValue> SettingValue for Option<T> {
    fn from_text(text: &str) -> Result<Option<T>, String> {
        T::from_text(text).map(Some)
    }
    fn from_toml(value: &toml::Value) -> Result<Option<T>, String> {
        T::from_toml(value).map(Some)
    }
}

/// One secret, byte for byte (no trimming, no splitting); empty is refused.
impl SettingValue for Secret {
    fn from_text(text: &str) -> Result<Secret, String> {
        if text.is_empty() {
            return Err("an empty secret is not allowed".into());
        }
        Ok(Secret::new(text))
    }
}

/// A list of secrets: a TOML array of strings, or in the environment a JSON array of strings
/// (`["old secret one", "old, secret, two"]`), so no secret can ever be split.
impl SettingValue for Vec<Secret> {
    fn from_text(text: &str) -> Result<Vec<Secret>, String> {
        let list: Vec<String> = serde_json::from_str(text).map_err(|_| {
            "expected a JSON array of strings, for example [\"old-secret\"]".to_owned()
        })?;
        list.iter().map(|s| Secret::from_text(s)).collect()
    }
    fn from_toml(value: &toml::Value) -> Result<Vec<Secret>, String> {
        match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Secret::from_text(s),
                    other => Err(format!("{other} is not a string")),
                })
                .collect(),
            toml::Value::String(s) => Self::from_text(s),
            other => Err(format!("{other} is not an array of strings")),
        }
    }
}

/// A connection URL (it may carry a password): `Debug` prints only whether it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> ConnectionUrl {
        ConnectionUrl(url.into())
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<set>")
    }
}

impl SettingValue for ConnectionUrl {
    fn from_text(text: &str) -> Result<ConnectionUrl, String> {
        Ok(ConnectionUrl(text.to_owned()))
    }
}

/// A group of settings declared with [`settings_table!`](crate::settings_table).
pub trait SettingsGroup: Sized {
    /// The Django names this group reads.
    const NAMES: &'static [&'static str];

    /// Reads the group; unset settings take their defaults.
    fn from_source(source: &SettingsSource) -> Result<Self, ConfigError>;

    /// Reads the group from the source the settings were built from.
    fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::from_source(settings.source())
    }
}

/// Declares a group of settings, each once: its field, type, Django name, default and doc.
///
/// The type must implement [`SettingValue`]; the macro writes the struct, its [`Default`]
/// (the defaults) and its [`SettingsGroup`] impl (the names and the reader).
///
/// ```
/// use session_core::settings::{SettingsGroup, SettingsSource};
/// session_core::settings_table! {
///     /// My engine's settings.
///     #[derive(Debug)]
///     pub struct MySettings {
///         /// `MY_ENGINE_SHARDS`: how many shards.
///         shards: u32 = "MY_ENGINE_SHARDS" => 4,
///     }
/// }
/// let s = MySettings::from_source(SettingsSource::new().set("MY_ENGINE_SHARDS", "8")).unwrap();
/// assert_eq!(s.shards, 8);
/// assert_eq!(MySettings::default().shards, 4);
/// ```
#[macro_export]
macro_rules! settings_table {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty = $setting:literal => $default:expr,
            )*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )* }
            }
        }

        impl $crate::settings::SettingsGroup for $name {
            const NAMES: &'static [&'static str] = &[$($setting),*];

            fn from_source(
                source: &$crate::settings::SettingsSource,
            ) -> ::core::result::Result<Self, $crate::ConfigError> {
                ::core::result::Result::Ok($name {
                    $( $field: match source.get::<$ty>($setting)? {
                        ::core::option::Option::Some(v) => v,
                        ::core::option::Option::None => $default,
                    }, )*
                })
            }
        }
    };
}
