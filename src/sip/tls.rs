//! TLS configurations for SIP over TLS, built from `sip.conf`'s `tls*` settings: the server
//! side of the `tlsbindaddr` listener and the client side of the connections ferrisk opens.
//! rustls with the `ring` provider only. Files are read here, once per (re)load; nothing here
//! touches a socket.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built (shown to the admin, naming the file).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: no PEM certificate in it")]
    NoCert(String),
    #[error("{0}: no PEM private key in it")]
    NoKey(String),
    #[error("{0}")]
    Rustls(String),
}

/// `tlsclientmethod`: the protocol versions offered when we connect out. rustls speaks
/// TLS 1.2 and 1.3 only; older methods are read as "1.2 or newer" with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsClientMethod {
    /// `sslv23` (chan_sip's default): the highest version both sides support.
    #[default]
    Flexible,
    /// `tlsv1_2`: TLS 1.2 only.
    Tls12,
    /// `tlsv1_3`: TLS 1.3 only.
    Tls13,
}

impl TlsClientMethod {
    /// The name `sip show settings` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsClientMethod::Flexible => "sslv23",
            TlsClientMethod::Tls12 => "tlsv1_2",
            TlsClientMethod::Tls13 => "tlsv1_3",
        }
    }
}

/// `tlsenable`, `tlsbindaddr` and the certificate options of `[general]` (chan_sip's TLS
/// settings; the files are read when the listener starts, not here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub enable: bool,
    /// `tlsbindaddr`, port 5061 unless given; by default the UDP address on 5061.
    pub bindaddr: SocketAddr,
    /// `tlscertfile`: certificate chain, PEM (chan_sip's default `asterisk.pem`).
    pub certfile: String,
    /// `tlsprivatekey`: PEM private key; `None` reads it from the certificate file.
    pub privatekey: Option<String>,
    /// `tlscafile` / `tlscapath`: CAs that verify servers (and clients with
    /// `tlsverifyclient`); without either the system's roots verify servers.
    pub cafile: Option<String>,
    pub capath: Option<String>,
    /// `tlsverifyclient`: require a client certificate signed by the CAs above.
    pub verifyclient: bool,
    /// `tlsdontverifyserver`: accept any server certificate when connecting out.
    pub dontverifyserver: bool,
    pub clientmethod: TlsClientMethod,
    /// `tlscipher`: an OpenSSL-style cipher list (`ECDHE-RSA-AES128-GCM-SHA256:…`, `ALL`,
    /// `HIGH`, `!name`); the suites it names, of those ferrisk has ([`cipher_suites`]).
    pub cipher: Option<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            enable: false,
            bindaddr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5061),
            certfile: "asterisk.pem".into(),
            privatekey: None,
            cafile: None,
            capath: None,
            verifyclient: false,
            dontverifyserver: false,
            clientmethod: TlsClientMethod::Flexible,
            cipher: None,
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The provider with the cipher suites `tlscipher` allows.
fn provider_for(s: &TlsSettings) -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(spec) = &s.cipher {
        let (suites, _) = cipher_suites(spec);
        if !suites.is_empty() {
            p.cipher_suites = suites;
        }
    }
    Arc::new(p)
}

/// OpenSSL's names of the suites ferrisk's TLS has (TLS 1.3 ones by their RFC 8446 names,
/// as OpenSSL's `-ciphersuites`).
const SUITE_NAMES: &[(&str, rustls::CipherSuite)] = &[
    (
        "TLS_AES_256_GCM_SHA384",
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_AES_128_GCM_SHA256",
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The suites an OpenSSL-style `tlscipher` list allows, in ferrisk's order, and the names
/// in it that are no suite ferrisk has (ignored). Names are OpenSSL's or IANA's
/// (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`); `ALL`, `DEFAULT`, `HIGH`, `SECURE` and
/// `COMPLEMENTOFDEFAULT` mean every suite; `!x` or `-x` removes `x` (names of weak classes
/// such as `!aNULL`, `!MD5`, `!RC4` remove nothing: ferrisk has no such suite); `+x` and
/// `@STRENGTH` are accepted. As in OpenSSL, the list governs TLS 1.2: TLS 1.3's suites
/// stay unless it names some of them. An empty result means the list allows no suite
/// ferrisk has.
pub fn cipher_suites(spec: &str) -> (Vec<rustls::SupportedCipherSuite>, Vec<String>) {
    let all = rustls::crypto::ring::default_provider().cipher_suites;
    let name_of = |cs: rustls::CipherSuite| -> Option<&'static str> {
        SUITE_NAMES.iter().find(|(_, c)| *c == cs).map(|(n, _)| *n)
    };
    let find = |tok: &str| -> Option<rustls::CipherSuite> {
        SUITE_NAMES
            .iter()
            .find(|(n, c)| {
                n.eq_ignore_ascii_case(tok)
                    || format!("{c:?}").eq_ignore_ascii_case(tok)
                    || format!("{c:?}")
                        .replace("TLS13_", "TLS_")
                        .eq_ignore_ascii_case(tok)
            })
            .map(|(_, c)| *c)
    };
    let mut chosen: Vec<rustls::CipherSuite> = Vec::new();
    let mut removed: Vec<rustls::CipherSuite> = Vec::new();
    let mut unknown = Vec::new();
    for tok in spec
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (neg, name) = match tok.as_bytes()[0] {
            b'!' | b'-' => (true, &tok[1..]),
            b'+' => continue,
            _ => (false, tok),
        };
        let upper = name.to_ascii_uppercase();
        if matches!(
            upper.as_str(),
            "ALL" | "DEFAULT" | "HIGH" | "SECURE" | "COMPLEMENTOFDEFAULT" | "@STRENGTH"
        ) || upper.starts_with("@SECLEVEL")
        {
            if !neg && upper != "@STRENGTH" && !upper.starts_with("@SECLEVEL") {
                chosen.extend(all.iter().map(|s| s.suite()));
            }
            continue;
        }
        match find(name) {
            Some(cs) if neg => removed.push(cs),
            Some(cs) => chosen.push(cs),
            // A class or suite ferrisk does not have: removing it changes nothing.
            None if neg => {}
            None => unknown.push(name.to_string()),
        }
    }
    let names_tls13 = chosen
        .iter()
        .any(|c| name_of(*c).is_some_and(|n| n.starts_with("TLS_")));
    let suites = all
        .into_iter()
        .filter(|s| {
            let cs = s.suite();
            let is13 = name_of(cs).is_some_and(|n| n.starts_with("TLS_"));
            !removed.contains(&cs) && (chosen.contains(&cs) || (is13 && !names_tls13))
        })
        .collect::<Vec<_>>();
    // Only TLS 1.3 left from a list that named no suite of ours: nothing it allows.
    let any12 = suites
        .iter()
        .any(|s| !name_of(s.suite()).is_some_and(|n| n.starts_with("TLS_")));
    if !any12 && !names_tls13 {
        return (Vec::new(), unknown);
    }
    (suites, unknown)
}

fn read(path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read(path.to_string(), e))
}

fn certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCert(path.to_string()));
    }
    Ok(certs)
}

fn key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NoKey(path.to_string()))
}

/// Our certificate chain and key: `tlscertfile`, the key from `tlsprivatekey` or else from
/// the certificate file (chan_sip's rule).
fn identity(
    s: &TlsSettings,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = certs(&s.certfile)?;
    let key = key(s.privatekey.as_deref().unwrap_or(&s.certfile))?;
    Ok((chain, key))
}

/// The CAs of `tlscafile` and every PEM file in `tlscapath`; `None` when neither is set.
fn ca_roots(s: &TlsSettings) -> Result<Option<rustls::RootCertStore>, TlsError> {
    if s.cafile.is_none() && s.capath.is_none() {
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    if let Some(f) = &s.cafile {
        for c in certs(f)? {
            roots
                .add(c)
                .map_err(|e| TlsError::Rustls(format!("{f}: {e}")))?;
        }
    }
    if let Some(dir) = &s.capath {
        let entries =
            std::fs::read_dir(Path::new(dir)).map_err(|e| TlsError::Read(dir.clone(), e))?;
        for e in entries.flatten() {
            let p = e.path();
            if let Ok(pem) = std::fs::read(&p) {
                for c in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
                    let _ = roots.add(c);
                }
            }
        }
    }
    Ok(Some(roots))
}

static TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn versions(m: TlsClientMethod) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match m {
        TlsClientMethod::Flexible => rustls::ALL_VERSIONS,
        TlsClientMethod::Tls12 => TLS12_ONLY,
        TlsClientMethod::Tls13 => TLS13_ONLY,
    }
}

/// The listener's configuration: our certificate, and with `tlsverifyclient` a client
/// certificate signed by `tlscafile`/`tlscapath` is required.
pub fn server_config(s: &TlsSettings) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (chain, key) = identity(s)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider_for(s))
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match (s.verifyclient, ca_roots(s)?) {
        (true, Some(roots)) => {
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(v)
        }
        _ => builder.with_no_client_auth(),
    };
    let cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Rustls(format!("{}: {e}", s.certfile)))?;
    Ok(Arc::new(cfg))
}

/// The configuration for connections we open: servers are verified against `tlscafile`/
/// `tlscapath` (else the system's roots) unless `tlsdontverifyserver`; our certificate is
/// offered when the server asks and `tlscertfile` can be read.
pub fn client_config(s: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider_for(s))
        .with_protocol_versions(versions(s.clientmethod))
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = if s.dontverifyserver {
        builder
            .dangerous()
            .with_custom_certificate_verifier(crate::net::tls::any_server_cert())
    } else {
        let roots = match ca_roots(s)? {
            Some(r) => r,
            None => {
                let mut roots = rustls::RootCertStore::empty();
                for c in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(c);
                }
                roots
            }
        };
        builder.with_root_certificates(roots)
    };
    let cfg = match identity(s) {
        Ok((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| TlsError::Rustls(format!("{}: {e}", s.certfile)))?,
        Err(_) => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {

    #[test]
    fn tlscipher_lists_pick_suites_like_openssl() {
        let names = |spec: &str| {
            let (v, u) = cipher_suites(spec);
            (
                v.iter()
                    .map(|s| format!("{:?}", s.suite()))
                    .collect::<Vec<_>>(),
                u,
            )
        };
        let (all, u) = names("ALL:!aNULL:!MD5:@STRENGTH");
        assert_eq!(all.len(), 9, "{all:?}");
        assert!(u.is_empty());
        // TLS 1.2 as listed; TLS 1.3 kept when the list names none.
        let (v, _) = names("ECDHE-RSA-AES128-GCM-SHA256");
        assert_eq!(v.len(), 4, "{v:?}");
        assert!(v.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_string()));
        let (v, _) = names("HIGH:!ECDHE-RSA-CHACHA20-POLY1305:!TLS_CHACHA20_POLY1305_SHA256");
        assert_eq!(v.len(), 7, "{v:?}");
        let (v, _) = names("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
        assert_eq!(v.len(), 2, "{v:?}");
        // Nothing ferrisk has: empty, with the unknown names.
        let (v, u) = names("AES128-SHA:DES-CBC3-SHA");
        assert!(v.is_empty());
        assert_eq!(u, ["AES128-SHA", "DES-CBC3-SHA"]);
    }

    use super::*;

    #[test]
    fn missing_files_name_the_file() {
        let s = TlsSettings {
            certfile: "/nonexistent/sip.pem".into(),
            ..TlsSettings::default()
        };
        let e = server_config(&s).expect_err("no file").to_string();
        assert!(e.contains("/nonexistent/sip.pem"), "{e}");
        // The client side works without a certificate of ours.
        let c = TlsSettings {
            dontverifyserver: true,
            ..s
        };
        assert!(client_config(&c).is_ok());
    }
}
