//! A small HTTP/1.1 client for the talko API over plain TCP (`http://` only): what the
//! `talko` command-line client and the end-to-end tests use. One request per connection
//! (`Connection: close`), JSON in and out, bearer tokens.
//!
//! Owns: request writing and response parsing (Content-Length, chunked, or to EOF). Must
//! never: follow redirects, speak TLS (put a TLS proxy in front), or buffer a response
//! larger than `MAX_RESPONSE`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response accepted.
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not `http://host:port`.
    #[error("base URL must look like http://127.0.0.1:8080")]
    BadUrl,
    /// Connecting, writing or reading failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The request timed out.
    #[error("timed out")]
    Timeout,
    /// The server's answer is not HTTP/1.1 as expected.
    #[error("malformed response")]
    Malformed,
}

/// A response: status, headers (lowercased names) and body.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    /// Status code.
    pub status: u16,
    /// Header name/value pairs, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl ClientResponse {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A client bound to one server.
#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    addr: String,
    token: Option<String>,
    timeout: Duration,
}

impl Client {
    /// A client for `base` (`http://host:port`).
    pub fn new(base: &str) -> Result<Client, ClientError> {
        let rest = base.strip_prefix("http://").ok_or(ClientError::BadUrl)?;
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            return Err(ClientError::BadUrl);
        }
        let addr = if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        Ok(Client {
            host: host.to_owned(),
            addr,
            token: None,
            timeout: Duration::from_secs(30),
        })
    }

    /// A client for a socket address.
    pub fn for_addr(addr: SocketAddr) -> Client {
        Client {
            host: addr.to_string(),
            addr: addr.to_string(),
            token: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Uses `token` as the bearer token from now on.
    pub fn with_token(mut self, token: impl Into<String>) -> Client {
        self.token = Some(token.into());
        self
    }

    /// Sends a request with an optional JSON body and extra headers.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<ClientResponse, ClientError> {
        tokio::time::timeout(
            self.timeout,
            self.request_inner(method, path, body, headers),
        )
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    async fn request_inner(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<ClientResponse, ClientError> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n", self.host);
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if body.is_some() {
            head.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
        let mut stream = TcpStream::connect(&self.addr).await?;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(payload.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(buf.get(..n).unwrap_or_default());
            if raw.len() > MAX_RESPONSE {
                return Err(ClientError::Malformed);
            }
        }
        parse_response(&raw)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Result<ClientResponse, ClientError> {
        self.request("GET", path, None, &[]).await
    }

    /// POST with a JSON body.
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<ClientResponse, ClientError> {
        self.request("POST", path, Some(body), &[]).await
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a complete HTTP/1.1 response (as read until the server closed).
pub fn parse_response(raw: &[u8]) -> Result<ClientResponse, ClientError> {
    let end = find(raw, b"\r\n\r\n").ok_or(ClientError::Malformed)?;
    let (head, rest) = raw.split_at_checked(end).ok_or(ClientError::Malformed)?;
    let body = rest.get(4..).ok_or(ClientError::Malformed)?;
    let head = std::str::from_utf8(head).map_err(|_| ClientError::Malformed)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(ClientError::Malformed)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(ClientError::Malformed);
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(ClientError::Malformed)?;
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line.split_once(':').ok_or(ClientError::Malformed)?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().map_err(|_| ClientError::Malformed)?;
        body.get(..len).ok_or(ClientError::Malformed)?.to_vec()
    } else {
        body.to_vec()
    };
    Ok(ClientResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    loop {
        let eol = find(data, b"\r\n").ok_or(ClientError::Malformed)?;
        let (size_line, rest) = data.split_at_checked(eol).ok_or(ClientError::Malformed)?;
        let size_text = std::str::from_utf8(size_line).map_err(|_| ClientError::Malformed)?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| ClientError::Malformed)?;
        let rest = rest.get(2..).ok_or(ClientError::Malformed)?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or(ClientError::Malformed)?;
        out.extend_from_slice(chunk);
        data = rest.get(size + 2..).ok_or(ClientError::Malformed)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked_bodies() {
        let r = parse_response(
            b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nX-A: b\r\n\r\n{}trailing",
        )
        .unwrap();
        assert_eq!(
            (r.status, &r.body[..], r.header("x-a")),
            (201, &b"{}"[..], Some("b"))
        );
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn refuses_malformed_responses() {
        for bad in [
            &b""[..],
            b"garbage",
            b"HTTP/1.1 abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(parse_response(bad).is_err());
        }
        assert!(Client::new("https://x").is_err());
        assert!(Client::new("http://").is_err());
    }
}
