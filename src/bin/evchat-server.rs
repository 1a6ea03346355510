//! `evchat-server`: parses settings, sets up logging, runs the loop — or
//! manages the users file (`evchat-server user ...`).

use clap::Parser;
use evchat::protocol::{bad_name, is_valid_name};
use evchat::server::accounts::{hash_password, Users};
#[cfg(feature = "cluster")]
use evchat::server::cluster::{
    users::{admin, Edit},
    ClusterSettings,
};
use evchat::server::{Server, ServerArgs, ServerCommand, ServerConfig, UserAction};
use log::{error, LevelFilter};
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = ServerArgs::parse();
    if let Some(ServerCommand::Health { host, port }) = &args.command {
        return match evchat::server::wire::http::check_health(host, *port) {
            Ok(said) => {
                println!("{said}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("evchat-server: {e}");
                ExitCode::from(1)
            }
        };
    }
    let config = ServerConfig::from_args(&args);
    if let Some(ServerCommand::User { action }) = &args.command {
        // Usage errors exit 2, failures to do what was asked 1.
        let done = match config {
            // (`--cluster` is refused with the settings in a build without
            // the cluster feature.)
            #[cfg(feature = "cluster")]
            Ok(ServerConfig {
                cluster: Some(cluster),
                users,
                ..
            }) => match (action, users) {
                (UserAction::Import, None) => {
                    return usage_error("import which users file? pass --users FILE")
                }
                (action, users) => manage_cluster_users(&cluster, action, users.as_deref()),
            },
            Ok(ServerConfig { users: None, .. }) => {
                return usage_error("which users file? pass --users FILE (or --cluster URLS)")
            }
            Ok(ServerConfig {
                users: Some(path), ..
            }) => match action {
                UserAction::Import => {
                    return usage_error("import into which cluster? pass --cluster URLS")
                }
                action => manage_users(&path, action),
            },
            Err(e) => return usage_error(&e),
        };
        return match done {
            Ok(done) => {
                println!("{done}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("evchat-server: {e}");
                ExitCode::from(1)
            }
        };
    }
    let level = config.as_ref().map_or(LevelFilter::Info, |c| c.log_level);
    // Until the end of main: the last lines are written out when it drops.
    let _log = evchat::server::logging::init(level);
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(&config) {
        Ok(server) => server,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(1);
        }
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("server stopped: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage_error(e: &str) -> ExitCode {
    eprintln!("evchat-server: {e}");
    ExitCode::from(2)
}

/// `user add|del|list`: edits the users file, which a running server
/// rereads at the next login. Returns what to tell the user.
fn manage_users(path: &Path, action: &UserAction) -> Result<String, String> {
    let shown = path.display();
    // Read even when two accounts are one name: `del` is how that is
    // mended, `list` how it is seen.
    let mut users = match action {
        // Listing a file that is not there is a mistake worth saying.
        UserAction::List => Users::load_for_editing(path)?,
        _ => Users::load_or_empty_for_editing(path)?,
    };
    let done = match action {
        UserAction::List => {
            let names: Vec<&str> = users.names().collect();
            return Ok(if names.is_empty() {
                format!("no users in {shown}")
            } else {
                names.join("\n")
            });
        }
        UserAction::Add { name } => {
            if !is_valid_name(name) {
                return Err(bad_name(name));
            }
            let existed = users.names().any(|n| n == name);
            if let Some(other) = users.spelling_of(name).filter(|_| !existed) {
                return Err(format!(
                    "{other} is an account already, and names are compared without case: \
                     `user add {other}` changes its password; nothing was changed"
                ));
            }
            let password = read_new_password(name)?;
            users.set(name, hash_password(&password)?);
            if existed {
                format!("changed the password of {name} in {shown}")
            } else {
                format!("added {name} to {shown}")
            }
        }
        UserAction::Import => return Err("import needs --cluster URLS".into()),
        UserAction::Del { name } => {
            // The account spelt so, or else the one it is in another case.
            let spelt = match users.names().find(|n| n == name) {
                Some(n) => n.to_owned(),
                None => users.spelling_of(name).unwrap_or(name).to_owned(),
            };
            if !users.remove(&spelt) {
                return Err(format!("no user {name} in {shown}"));
            }
            format!("removed {spelt} from {shown}")
        }
    };
    users.save(path)?;
    Ok(done)
}

/// `user add|del|list|import` with `--cluster`: edits the accounts bucket,
/// which every node follows at once.
#[cfg(feature = "cluster")]
fn manage_cluster_users(
    cluster: &ClusterSettings,
    action: &UserAction,
    file: Option<&Path>,
) -> Result<String, String> {
    let urls = evchat::server::cluster::connect::shown_urls(&cluster.urls);
    let edit = match action {
        UserAction::List => Edit::List,
        UserAction::Add { name } => {
            if !is_valid_name(name) {
                return Err(bad_name(name));
            }
            let password = read_new_password(name)?;
            Edit::Set {
                name: name.clone(),
                hash: hash_password(&password)?,
            }
        }
        UserAction::Del { name } => Edit::Remove { name: name.clone() },
        UserAction::Import => Edit::Import(Users::load(file.unwrap_or(Path::new("")))?),
    };
    let (names, changed) = admin(cluster, edit)?;
    Ok(match action {
        UserAction::List if names.is_empty() => {
            format!("no users in the cluster at {urls} (it is open: anyone may log in)")
        }
        UserAction::List => names.join("\n"),
        UserAction::Add { name } => format!("set the password of {name} in the cluster at {urls}"),
        UserAction::Del { name } if changed => format!("removed {name} from the cluster at {urls}"),
        UserAction::Del { name } => return Err(format!("no user {name} in the cluster at {urls}")),
        UserAction::Import => format!("the cluster at {urls} now has {} accounts", names.len()),
    })
}

/// Asks twice without echo on a terminal; otherwise reads one line.
fn read_new_password(name: &str) -> Result<String, String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the passwords differ; nothing was changed".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        return Err("the password must not be empty".into());
    }
    Ok(password)
}
