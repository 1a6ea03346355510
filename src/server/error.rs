//! Why the server could not start, with the underlying error kept as the
//! [`source`](std::error::Error::source) — a port in use, a journal that is
//! someone else's file — so the binary can say what to fix and a program
//! embedding the server can tell the causes apart.

use std::error::Error;
use std::fmt;

/// A failure while setting the server up.
#[derive(Debug)]
pub struct SetupError {
    what: String,
    cause: Option<Box<dyn Error + Send + Sync + 'static>>,
}

impl SetupError {
    /// A failure that is its own explanation.
    pub fn new(what: impl Into<String>) -> SetupError {
        SetupError {
            what: what.into(),
            cause: None,
        }
    }

    /// `what` failed because of `cause`.
    pub fn caused(
        what: impl Into<String>,
        cause: impl Error + Send + Sync + 'static,
    ) -> SetupError {
        SetupError {
            what: what.into(),
            cause: Some(Box::new(cause)),
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl Error for SetupError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

impl From<String> for SetupError {
    fn from(what: String) -> SetupError {
        SetupError::new(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_kept_and_shown() {
        let io = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let e = SetupError::caused("cannot listen on 127.0.0.1:5555", io);
        assert!(e
            .to_string()
            .starts_with("cannot listen on 127.0.0.1:5555: "));
        let cause = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(cause.map(|c| c.kind()), Some(std::io::ErrorKind::AddrInUse));
    }
}
