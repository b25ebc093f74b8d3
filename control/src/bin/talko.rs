//! `talko`: a small command-line client for the talko API.
//!
//! ```text
//! talko [--server http://127.0.0.1:8080] [--token TOKEN] COMMAND ...
//!   register EMAIL PASSWORD NAME     verify EMAIL CODE       login EMAIL PASSWORD
//!   me                               groups                  group-create NAME
//!   post GROUP_ID TEXT               timeline GROUP_ID [LIMIT]
//! ```
//! `TALKO_SERVER` and `TALKO_TOKEN` stand in for the flags. Answers are printed as JSON;
//! a problem document makes the exit status 1.

use std::process::ExitCode;

use serde_json::{json, Value};
use talko_control::client::Client;

const USAGE: &str = "usage: talko [--server URL] [--token TOKEN] COMMAND\n  \
    register EMAIL PASSWORD NAME | verify EMAIL CODE | login EMAIL PASSWORD | me | groups |\n  \
    group-create NAME | post GROUP_ID TEXT | timeline GROUP_ID [LIMIT]";

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn run(args: Vec<String>) -> Result<Value, String> {
    let mut server =
        std::env::var("TALKO_SERVER").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned());
    let mut token = std::env::var("TALKO_TOKEN").ok();
    let mut rest: Vec<String> = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--server" => server = it.next().ok_or("--server needs a URL")?,
            "--token" => token = Some(it.next().ok_or("--token needs a value")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ => rest.push(a),
        }
    }
    let mut client = Client::new(&server).map_err(|e| e.to_string())?;
    if let Some(t) = token {
        client = client.with_token(t);
    }
    let words: Vec<&str> = rest.iter().map(String::as_str).collect();
    let resp = match words.as_slice() {
        ["register", email, password, name] => {
            client
                .post(
                    "/v1/accounts",
                    &json!({"email": email, "password": password, "display_name": name}),
                )
                .await
        }
        ["verify", email, code] => {
            client
                .post(
                    "/v1/accounts/verify",
                    &json!({"email": email, "code": code}),
                )
                .await
        }
        ["login", email, password] => {
            client
                .post(
                    "/v1/sessions",
                    &json!({"email": email, "password": password, "device_name": "talko-cli"}),
                )
                .await
        }
        ["me"] => client.get("/v1/me").await,
        ["groups"] => client.get("/v1/groups").await,
        ["group-create", name] => client.post("/v1/groups", &json!({"name": name})).await,
        ["post", group, text] => {
            client
                .post(
                    &format!("/v1/groups/{}/items", encode(group)),
                    &json!({"text": text}),
                )
                .await
        }
        ["timeline", group] => {
            client
                .get(&format!("/v1/groups/{}/items", encode(group)))
                .await
        }
        ["timeline", group, limit] => {
            client
                .get(&format!(
                    "/v1/groups/{}/items?limit={}",
                    encode(group),
                    encode(limit)
                ))
                .await
        }
        _ => return Err(USAGE.to_owned()),
    }
    .map_err(|e| e.to_string())?;
    let body = resp.json();
    if resp.status >= 400 {
        return Err(format!(
            "{} {}: {}",
            resp.status,
            body["code"].as_str().unwrap_or("error"),
            body["detail"].as_str().unwrap_or("")
        ));
    }
    Ok(body)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("talko: {e}");
            ExitCode::FAILURE
        }
    }
}
