//! Handing one queued mail to the outside: SMTP through lettre (`smtp_host`, else
//! localhost:25 when no `mailcmd`), or `mailcmd` run through `sh -c` with the message on
//! its standard input (like Asterisk's `sendmail -t`). Failures are sorted into temporary
//! (retry later) and permanent (the relay refused the mail for good).

use super::queue::QueuedMail;
use crate::voicemail::config::{SmtpTls, VmGeneral};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long one SMTP session or one `mailcmd` run may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Try again later (connection refused, 4xx, timeout, command failed).
    Temporary(String),
    /// Do not try again (5xx, unusable addresses).
    Permanent(String),
}

/// Where mails go, from `[general]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        user: Option<String>,
        password: Option<String>,
    },
    Command(String),
}

impl Route {
    pub fn from_general(g: &VmGeneral) -> Route {
        let smtp = |host: &str| Route::Smtp {
            host: host.to_string(),
            port: g.smtp.port.unwrap_or(25),
            tls: g.smtp.tls,
            user: g.smtp.user.clone(),
            password: g.smtp.password.clone(),
        };
        if let Some(h) = g.smtp.host.as_deref().filter(|h| !h.is_empty()) {
            return smtp(h);
        }
        if let Some(c) = g.mailcmd.as_deref().filter(|c| !c.trim().is_empty()) {
            return Route::Command(c.to_string());
        }
        smtp("localhost")
    }

    /// For log lines: `SMTP 127.0.0.1:25` or `mailcmd '/usr/sbin/sendmail -t'`.
    pub fn describe(&self) -> String {
        match self {
            Route::Smtp { host, port, .. } => format!("SMTP {host}:{port}"),
            Route::Command(c) => format!("mailcmd '{c}'"),
        }
    }
}

/// Deliver one mail by `route`.
pub async fn send(route: &Route, mail: &QueuedMail, hello: &str) -> Result<(), SendError> {
    match route {
        Route::Smtp {
            host,
            port,
            tls,
            user,
            password,
        } => {
            send_smtp(
                host,
                *port,
                *tls,
                user.as_deref(),
                password.as_deref(),
                mail,
                hello,
            )
            .await
        }
        Route::Command(cmd) => send_command(cmd, mail).await,
    }
}

async fn send_smtp(
    host: &str,
    port: u16,
    tls: SmtpTls,
    user: Option<&str>,
    password: Option<&str>,
    mail: &QueuedMail,
    hello: &str,
) -> Result<(), SendError> {
    let perm = |what: &str, e: String| SendError::Permanent(format!("{what}: {e}"));
    let from: Address = mail
        .from
        .parse()
        .map_err(|e: lettre::address::AddressError| {
            perm(&format!("sender '{}'", mail.from), e.to_string())
        })?;
    let to: Address = mail
        .to
        .parse()
        .map_err(|e: lettre::address::AddressError| {
            perm(&format!("recipient '{}'", mail.to), e.to_string())
        })?;
    let envelope =
        Envelope::new(Some(from), vec![to]).map_err(|e| perm("envelope", e.to_string()))?;
    let tls = match tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls | SmtpTls::Tls => {
            let p = TlsParameters::new(host.to_string())
                .map_err(|e| SendError::Temporary(format!("TLS setup for {host}: {e}")))?;
            if tls == SmtpTls::StartTls {
                Tls::Required(p)
            } else {
                Tls::Wrapper(p)
            }
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(SEND_TIMEOUT))
        .hello_name(ClientId::Domain(hello.to_string()));
    if let Some(u) = user {
        b = b.credentials(Credentials::new(
            u.to_string(),
            password.unwrap_or_default().to_string(),
        ));
    }
    let transport = b.build();
    match transport.send_raw(&envelope, &mail.data).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SendError::Permanent(error_text(&e))),
        Err(e) => Err(SendError::Temporary(error_text(&e))),
    }
}

/// lettre's error with its causes (`Connection refused` is in the source chain).
fn error_text(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

async fn send_command(cmd: &str, mail: &QueuedMail) -> Result<(), SendError> {
    let temp = |e: String| SendError::Temporary(format!("mailcmd '{cmd}': {e}"));
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| temp(format!("cannot start: {e}")))?;
    let data = mail.data.clone();
    let mut stdin = child.stdin.take();
    let run = async move {
        if let Some(mut s) = stdin.take() {
            // A command that exits without reading everything is judged by its status.
            let _ = s.write_all(&data).await;
            let _ = s.shutdown().await;
        }
        child.wait_with_output().await
    };
    let out = match tokio::time::timeout(SEND_TIMEOUT, run).await {
        Err(_) => {
            return Err(temp(format!(
                "still running after {}s",
                SEND_TIMEOUT.as_secs()
            )))
        }
        Ok(Err(e)) => return Err(temp(e.to_string())),
        Ok(Ok(o)) => o,
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let why = match out.status.code() {
        Some(c) => format!("exited with status {c}"),
        None => "killed by a signal".to_string(),
    };
    let why = if stderr.is_empty() {
        why
    } else {
        format!("{why}: {stderr}")
    };
    match out.status.code() {
        // sysexits that say the mail itself is wrong: EX_USAGE, EX_DATAERR, EX_NOUSER,
        // EX_NOHOST. Anything else (EX_TEMPFAIL, a crash, `exit 1`) is tried again.
        Some(64 | 65 | 67 | 68) => Err(SendError::Permanent(format!("mailcmd '{cmd}': {why}"))),
        _ => Err(temp(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_choice() {
        let mut g = VmGeneral::default();
        assert_eq!(Route::from_general(&g).describe(), "SMTP localhost:25");
        g.mailcmd = Some("/usr/sbin/sendmail -t".into());
        assert_eq!(
            Route::from_general(&g),
            Route::Command("/usr/sbin/sendmail -t".into())
        );
        g.smtp.host = Some("relay.example.com".into());
        g.smtp.port = Some(587);
        assert_eq!(
            Route::from_general(&g).describe(),
            "SMTP relay.example.com:587",
            "smtp_host wins over mailcmd"
        );
    }

    #[test]
    fn tls_parameters_build_offline() {
        // rustls with lettre's own crypto provider and the bundled web PKI roots.
        assert!(TlsParameters::new("relay.example.com".into()).is_ok());
    }

    #[tokio::test]
    async fn command_exit_codes() {
        let mail = QueuedMail {
            kind: "email".into(),
            from: "a@b".into(),
            to: "c@d".into(),
            data: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        };
        assert_eq!(send_command("cat >/dev/null", &mail).await, Ok(()));
        assert!(matches!(
            send_command("exit 75", &mail).await,
            Err(SendError::Temporary(_))
        ));
        assert!(matches!(
            send_command("exit 1", &mail).await,
            Err(SendError::Temporary(_))
        ));
        assert!(matches!(
            send_command("exit 67", &mail).await,
            Err(SendError::Permanent(_))
        ));
    }

    #[tokio::test]
    async fn refused_connection_is_temporary() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let route = Route::Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            user: None,
            password: None,
        };
        let mail = QueuedMail {
            kind: "email".into(),
            from: "a@b.example".into(),
            to: "c@d.example".into(),
            data: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
        };
        match send(&route, &mail, "pbx").await {
            Err(SendError::Temporary(_)) => {}
            other => panic!("expected a temporary failure, got {other:?}"),
        }
    }
}
