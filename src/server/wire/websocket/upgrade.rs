//! The WebSocket opening handshake (RFC 6455 4.2): whether a request to
//! `/ws` may become a WebSocket, and the answer that makes it one.
//!
//! Cross-site protection: a browser always names the page that opened a
//! WebSocket in `Origin`, and any site's page may try ours. An upgrade
//! whose origin is not this server (its `Host`) is refused with 403 unless
//! `--allow-origin` lists it; a request with no `Origin` is not from a
//! browser page, and is let in. No extension is agreed — permessage-deflate
//! would make every recipient's copy its own — and no subprotocol.

use crate::server::wire::http::Request;

/// Why an upgrade is refused: the status and a line for the body.
pub type Refusal = (u16, &'static str);

/// Checks an upgrade request; returns the `Sec-WebSocket-Accept` value.
/// `local_only`: the server listens on loopback only, so a `Host` that does
/// not name this machine is a page under a rebound name (below).
pub fn check(
    request: &Request,
    allowed_origins: &[String],
    local_only: bool,
) -> Result<String, Refusal> {
    if request.method != "GET" {
        return Err((400, "a WebSocket upgrade is a GET\n"));
    }
    if !has_token(request.upgrade.as_deref(), "websocket")
        || !has_token(request.connection.as_deref(), "upgrade")
    {
        return Err((
            400,
            "not a WebSocket upgrade: /ws needs Upgrade: websocket\n",
        ));
    }
    if request.ws_version.as_deref() != Some("13") {
        return Err((400, "only WebSocket version 13 is spoken\n"));
    }
    let key = request.ws_key.as_deref().unwrap_or_default();
    if !is_key(key) {
        return Err((400, "a bad Sec-WebSocket-Key\n"));
    }
    if let Some(origin) = request.origin.as_deref() {
        if !origin_allowed(origin, request.host.as_deref(), allowed_origins) {
            return Err((
                403,
                "cross-site WebSocket refused: the page's origin is not this server (see --allow-origin)\n",
            ));
        }
        let listed = allowed_origins
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin));
        let local = request.host.as_deref().is_some_and(is_local_host);
        if local_only && !local && !listed {
            return Err((
                403,
                "WebSocket refused: this server listens on loopback, and the page's host is not this machine (see --allow-origin)\n",
            ));
        }
    }
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// The `101` answer that switches the connection to WebSocket.
pub fn switching(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// Does a `Host` name this machine (`localhost`, a loopback address)? A
/// page whose host name an attacker's DNS points at 127.0.0.1 (DNS
/// rebinding) has an `Origin` equal to its `Host`, so the origin check
/// alone lets it in; on a server that listens on loopback only, no real
/// page can have another host.
fn is_local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Does a comma-separated header value hold `token` (any case)?
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// A key is 16 random bytes in base64: 22 characters and `==`.
fn is_key(key: &str) -> bool {
    let (body, pad) = key.split_at(key.len().min(22));
    key.len() == 24
        && pad == "=="
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Is a page of `origin` allowed to open a WebSocket here?
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let (scheme, authority) = match origin.split_once("://") {
        Some(("http", rest)) => ("http", rest),
        Some(("https", rest)) => ("https", rest),
        _ => return false, // "null", file:, and anything else
    };
    let Some(host) = host else {
        return false;
    };
    let default_port = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        match scheme {
            "http" => a.strip_suffix(":80").map(str::to_owned).unwrap_or(a),
            _ => a.strip_suffix(":443").map(str::to_owned).unwrap_or(a),
        }
    };
    default_port(authority) == default_port(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(origin: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: "/ws".into(),
            host: Some("chat.example:5555".into()),
            origin: origin.map(Into::into),
            upgrade: Some("websocket".into()),
            connection: Some("keep-alive, Upgrade".into()),
            ws_key: Some("dGhlIHNhbXBsZSBub25jZQ==".into()),
            ws_version: Some("13".into()),
            ..Request::default()
        }
    }

    #[test]
    fn a_good_upgrade_gets_the_rfc_accept_key() {
        // The example of RFC 6455 1.3.
        assert_eq!(
            check(&upgrade(None), &[], false),
            Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned())
        );
        let same_site = upgrade(Some("http://chat.example:5555"));
        assert!(check(&same_site, &[], false).is_ok());
        let mut tls = upgrade(Some("https://Chat.Example"));
        tls.host = Some("chat.example:443".into());
        assert!(check(&tls, &[], false).is_ok());
    }

    #[test]
    fn another_site_is_refused_unless_allowed() {
        let other = upgrade(Some("https://evil.example"));
        assert_eq!(check(&other, &[], false).map_err(|e| e.0), Err(403));
        assert!(check(&other, &["https://evil.example".into()], false).is_ok());
        assert!(check(&other, &["*".into()], false).is_ok());
        let null = upgrade(Some("null"));
        assert_eq!(check(&null, &[], false).map_err(|e| e.0), Err(403));
        let other_port = upgrade(Some("http://chat.example:8080"));
        assert_eq!(check(&other_port, &[], false).map_err(|e| e.0), Err(403));
    }

    #[test]
    fn on_loopback_a_page_under_another_name_is_refused() {
        // DNS rebinding: evil.example resolved to 127.0.0.1.
        let mut rebound = upgrade(Some("http://evil.example:5555"));
        rebound.host = Some("evil.example:5555".into());
        assert!(
            check(&rebound, &[], false).is_ok(),
            "the origin check alone"
        );
        assert_eq!(check(&rebound, &[], true).map_err(|e| e.0), Err(403));
        let listed = ["http://evil.example:5555".to_owned()];
        assert!(check(&rebound, &listed, true).is_ok());
        for host in [
            "localhost:5555",
            "127.0.0.1:5555",
            "[::1]:5555",
            "127.0.0.2",
            "LOCALHOST",
        ] {
            let mut local = upgrade(Some(&format!("http://{host}")));
            local.host = Some(host.into());
            assert!(check(&local, &[], true).is_ok(), "{host}");
        }
        // Not a browser: no Origin, no page to rebind.
        let mut tool = upgrade(None);
        tool.host = Some("anything:1".into());
        assert!(check(&tool, &[], true).is_ok());
    }

    #[test]
    fn bad_upgrades_get_400() {
        let cases: [fn(&mut Request); 6] = [
            |r| r.method = "POST".into(),
            |r| r.upgrade = None,
            |r| r.connection = Some("close".into()),
            |r| r.ws_version = Some("8".into()),
            |r| r.ws_key = Some("short==".into()),
            |r| r.ws_key = None,
        ];
        for break_it in cases {
            let mut request = upgrade(None);
            break_it(&mut request);
            assert_eq!(
                check(&request, &[], false).map_err(|e| e.0),
                Err(400),
                "{request:?}"
            );
        }
    }
}
