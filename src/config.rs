//! Pieces shared by the server's and the client's configuration: byte sizes
//! with suffixes and TOML files whose keys mirror the command-line flags.
//!
//! Precedence is always flag, then file, then built-in default, so a config
//! file sets a site's defaults and a flag still wins for one run.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::Path;

/// A byte count written as `65536`, `64K`, `8M` or `1G` (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub usize);

impl std::str::FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Size, String> {
        let s = s.trim();
        let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => s.split_at(i),
            None => (s, ""),
        };
        let shift = match unit.to_ascii_uppercase().as_str() {
            "" | "B" => 0,
            "K" | "KB" | "KIB" => 10,
            "M" | "MB" | "MIB" => 20,
            "G" | "GB" | "GIB" => 30,
            _ => return Err(format!("bad size {s:?}: use a number with K, M or G")),
        };
        let n: usize = digits
            .parse()
            .map_err(|_| format!("bad size {s:?}: use a number with K, M or G"))?;
        n.checked_mul(1 << shift)
            .map(Size)
            .ok_or_else(|| format!("size {s:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(usize),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Size(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Reads a TOML config file; unknown keys are an error, so typos show.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("bad config {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("65536".parse(), Ok(Size(65536)));
        assert_eq!("64K".parse(), Ok(Size(64 << 10)));
        assert_eq!("8m".parse(), Ok(Size(8 << 20)));
        assert_eq!("1GiB".parse(), Ok(Size(1 << 30)));
        assert!("8X".parse::<Size>().is_err());
        assert!("K".parse::<Size>().is_err());
        assert!("99999999999999999999G".parse::<Size>().is_err());
    }

    #[test]
    fn sizes_in_toml() {
        #[derive(Deserialize)]
        struct C {
            a: Size,
            b: Size,
        }
        let c: C = toml::from_str("a = 1024\nb = \"2K\"").unwrap();
        assert_eq!((c.a, c.b), (Size(1024), Size(2048)));
    }
}
