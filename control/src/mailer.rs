//! Outgoing mail: verification codes. SMTP through `lettre` when configured, otherwise the
//! code is written to the log (development), or captured in memory (tests).
//!
//! Owns: composing and sending mail. Must never: block a request on a slow relay longer
//! than its timeout, or log a code when SMTP is configured.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::SmtpConfig;

/// Where verification mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// Written to the log with `tracing` (no SMTP configured).
    Log,
    /// Kept in memory: `(to, code)` pairs, newest last (tests and tools).
    Memory(Outbox),
    /// Sent through an SMTP relay.
    Smtp(Arc<Smtp>),
}

/// Captured `(to, code)` pairs of the memory mailer.
pub type Outbox = Arc<Mutex<Vec<(String, String)>>>;

/// An SMTP relay and the sender address.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mailer::Log => "Mailer::Log",
            Mailer::Memory(_) => "Mailer::Memory",
            Mailer::Smtp(_) => "Mailer::Smtp",
        })
    }
}

/// A mail could not be built or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// SMTP settings are invalid.
    #[error("smtp configuration: {0}")]
    Config(String),
    /// The relay refused or failed.
    #[error("smtp send: {0}")]
    Send(String),
}

impl Mailer {
    /// A mailer for the given SMTP settings, or the log mailer without them.
    pub fn from_config(smtp: Option<&SmtpConfig>) -> Result<Mailer, MailError> {
        let Some(smtp) = smtp else {
            return Ok(Mailer::Log);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url)
            .map_err(|e| MailError::Config(e.to_string()))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let from = smtp
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailError::Config(e.to_string()))?;
        Ok(Mailer::Smtp(Arc::new(Smtp { transport, from })))
    }

    /// A capturing mailer and its outbox.
    pub fn memory() -> (Mailer, Outbox) {
        let outbox = Arc::new(Mutex::new(Vec::new()));
        (Mailer::Memory(outbox.clone()), outbox)
    }

    /// Sends the verification `code` to `to`.
    pub async fn send_verification(&self, to: &str, code: &str) -> Result<(), MailError> {
        match self {
            Mailer::Log => {
                tracing::info!(to, code, "email verification code (no SMTP configured)");
                Ok(())
            }
            Mailer::Memory(outbox) => {
                if let Ok(mut o) = outbox.lock() {
                    o.push((to.to_owned(), code.to_owned()));
                }
                Ok(())
            }
            Mailer::Smtp(smtp) => {
                let to: Mailbox = to
                    .parse()
                    .map_err(|e: lettre::address::AddressError| MailError::Send(e.to_string()))?;
                let msg = Message::builder()
                    .from(smtp.from.clone())
                    .to(to)
                    .subject("Your talko verification code")
                    .body(format!(
                        "Your talko verification code is {code}.\n\nIt expires in 15 minutes."
                    ))
                    .map_err(|e| MailError::Send(e.to_string()))?;
                smtp.transport
                    .send(msg)
                    .await
                    .map_err(|e| MailError::Send(e.to_string()))?;
                Ok(())
            }
        }
    }
}
