//! What the client runs with: its flags over its config file over the
//! built-in defaults. The file has the flags' keys:
//!
//! ```toml
//! name = "alice"
//! host = "chat.example.org"
//! port = 5555
//! to = ["bob", "carol"]   # or to = "bob"
//! tls = true
//! ca = "ca.pem"
//! ```

use super::cli::ClientArgs;
use crate::config::load_toml;
use crate::protocol::is_valid_name;
use serde::Deserialize;
use std::path::PathBuf;

/// `to = "bob"` or `to = ["bob", "carol"]` (a string may also hold
/// `"bob,carol"`, as the flag does).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    fn into_vec(self) -> Vec<String> {
        let names = match self {
            Names::One(one) => vec![one],
            Names::Many(many) => many,
        };
        names
            .iter()
            .flat_map(|n| n.split(','))
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ClientFile {
    name: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    to: Option<Names>,
    tls: Option<bool>,
    ca: Option<PathBuf>,
}

/// The settings of one run.
#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub to: Vec<String>,
    pub password_stdin: bool,
    pub tls: bool,
    pub ca: Option<PathBuf>,
}

/// Merges the flags with the config file they name, if any.
pub fn settings(args: ClientArgs) -> Result<Settings, String> {
    let file: ClientFile = match &args.config {
        Some(path) => beside(load_toml(path)?, path),
        None => ClientFile::default(),
    };
    merge(args, file)
}

/// A relative path in a config file is read from the file's folder, not
/// from wherever the client was started.
fn beside(mut file: ClientFile, config: &std::path::Path) -> ClientFile {
    let folder = config.parent().unwrap_or(std::path::Path::new(""));
    if let Some(ca) = file.ca.as_mut().filter(|ca| ca.is_relative()) {
        *ca = folder.join(&*ca);
    }
    file
}

fn merge(args: ClientArgs, file: ClientFile) -> Result<Settings, String> {
    let name = args
        .name
        .or(file.name)
        .ok_or("a name is needed: evchat-client <name>")?;
    let to = if args.to.is_empty() {
        file.to.map(Names::into_vec).unwrap_or_default()
    } else {
        args.to
    };
    for n in std::iter::once(&name).chain(&to) {
        if !is_valid_name(n) {
            return Err(crate::protocol::bad_name(n));
        }
    }
    let ca = args.ca.or(file.ca);
    Ok(Settings {
        name,
        host: args
            .host
            .or(file.host)
            .unwrap_or_else(|| "127.0.0.1".into()),
        port: args.port.or(file.port).unwrap_or(5555),
        to,
        password_stdin: args.password_stdin,
        tls: args.tls || file.tls.unwrap_or(false) || ca.is_some(),
        ca,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_file(toml_text: &str, args: ClientArgs) -> Result<Settings, String> {
        let file: ClientFile = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        merge(args, file)
    }

    #[test]
    fn to_takes_a_name_or_a_list() {
        let one = from_file("name = \"amy\"\nto = \"bob\"", ClientArgs::default()).unwrap();
        assert_eq!(one.to, ["bob"]);
        let many = from_file(
            "name = \"amy\"\nto = [\"bob\", \"carol\"]",
            ClientArgs::default(),
        )
        .unwrap();
        assert_eq!(many.to, ["bob", "carol"]);
        let flag = ClientArgs {
            to: vec!["eric".into()],
            ..ClientArgs::default()
        };
        let flag_wins = from_file("name = \"amy\"\nto = \"bob\"", flag).unwrap();
        assert_eq!(flag_wins.to, ["eric"]);
        assert!(from_file("name = \"amy\"\nto = \"b!b\"", ClientArgs::default()).is_err());
    }

    #[test]
    fn tls_and_ca_keys_work_like_the_flags() {
        let s = from_file(
            "name = \"amy\"\nhost = \"localhost\"\ntls = true",
            ClientArgs::default(),
        )
        .unwrap();
        assert!(s.tls);
        assert_eq!(s.ca, None);
        let s = from_file("name = \"amy\"\nca = \"ca.pem\"", ClientArgs::default()).unwrap();
        assert!(s.tls, "a CA implies TLS, as --ca does");
        assert_eq!(s.ca, Some(PathBuf::from("ca.pem")));
        let plain = from_file("name = \"amy\"\ntls = false", ClientArgs::default()).unwrap();
        let near = beside(
            toml::from_str("name = \"amy\"\nca = \"../tls/ca.pem\"").unwrap(),
            std::path::Path::new("/etc/evchat/client.toml"),
        );
        assert_eq!(near.ca, Some(PathBuf::from("/etc/evchat/../tls/ca.pem")));
        let absolute = beside(
            toml::from_str("name = \"amy\"\nca = \"/ca.pem\"").unwrap(),
            std::path::Path::new("/etc/evchat/client.toml"),
        );
        assert_eq!(absolute.ca, Some(PathBuf::from("/ca.pem")));
        assert!(!plain.tls);
        assert!(from_file("name = \"amy\"\ntls = \"yes\"", ClientArgs::default()).is_err());
    }
}
