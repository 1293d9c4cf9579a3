//! Email adapters behind [`domain::email::EmailSender`].

use domain::email::{EmailError, EmailSender, OutgoingEmail};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), EmailError>> + Send + 'a>>;

/// The embedded default: each message is written as a file (mode 0600) in an
/// outbox directory for the operator to read or forward. The log says where,
/// never what, because messages hold one-time links.
pub struct OutboxSender {
    dir: PathBuf,
}

impl OutboxSender {
    /// Messages go to `dir` (created when needed).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

impl EmailSender for OutboxSender {
    fn send<'a>(&'a self, email: OutgoingEmail) -> Sending<'a> {
        Box::pin(async move {
            let fail =
                |e: std::io::Error| EmailError(format!("outbox {}: {e}", self.dir.display()));
            tokio::fs::create_dir_all(&self.dir).await.map_err(fail)?;
            let path = self.dir.join(format!("{}.eml", uuid::Uuid::now_v7()));
            let text = format!(
                "To: {}\nSubject: {}\n\n{}\n",
                email.to, email.subject, email.body
            );
            write_private(&path, text.as_bytes()).await.map_err(fail)?;
            tracing::info!(to = %email.to, subject = %email.subject, path = %path.display(), "email written to the outbox");
            Ok(())
        })
    }
}

async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).await?;
    tokio::io::AsyncWriteExt::write_all(&mut f, bytes).await?;
    tokio::io::AsyncWriteExt::flush(&mut f).await
}

/// SMTP settings.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// `smtp://host:port` (STARTTLS when offered) or `smtps://host:port`.
    pub url: String,
    /// Sender address, e.g. `BizOSaaS <no-reply@example.com>`.
    pub from: String,
    /// Login, when the server needs one.
    pub username: Option<String>,
    /// Password for the login (never logged).
    pub password: Option<String>,
}

/// Sends through an SMTP server with lettre.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    /// Builds the transport; connects on first send.
    pub fn new(config: &SmtpConfig) -> Result<Self, EmailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| EmailError(format!("bad sender address: {e}")))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| EmailError(format!("bad SMTP URL: {e}")))?;
        if let (Some(u), Some(p)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

impl EmailSender for SmtpSender {
    fn send<'a>(&'a self, email: OutgoingEmail) -> Sending<'a> {
        Box::pin(async move {
            let to: Mailbox = email
                .to
                .parse()
                .map_err(|e| EmailError(format!("bad recipient: {e}")))?;
            let message = Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(email.subject)
                .body(email.body)
                .map_err(|e| EmailError(e.to_string()))?;
            self.transport
                .send(message)
                .await
                .map_err(|e| EmailError(e.to_string()))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_keeps_each_message_private_to_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(dir.path().join("outbox"));
        let email = OutgoingEmail {
            to: "ann@acme.io".into(),
            subject: "Hi".into(),
            body: "link".into(),
        };
        outbox.send(email).await.unwrap();
        let entry = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        assert!(text.contains("To: ann@acme.io") && text.ends_with("link\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                entry.metadata().unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    // The pooled transport starts a task, so it is built inside the runtime.
    #[tokio::test]
    async fn smtp_settings_are_checked_when_built() {
        let bad = SmtpConfig {
            url: "smtp://127.0.0.1:2525".into(),
            from: "not an address".into(),
            username: None,
            password: None,
        };
        assert!(SmtpSender::new(&bad).is_err());
        let ok = SmtpConfig {
            url: "smtp://127.0.0.1:2525".into(),
            from: "BizOSaaS <no-reply@acme.io>".into(),
            username: None,
            password: None,
        };
        assert!(SmtpSender::new(&ok).is_ok());
    }
}
