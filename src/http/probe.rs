//! Looking at a TLS server without sending it anything (`mcp-sigv4 doctor`).
//!
//! Owns: one TLS handshake over a TCP stream the caller opened, to read the
//! server's certificate — its subject and issuer names (RFC 5280 §4.1.2.4,
//! §4.1.2.6: the `CN` and `O` attributes) — and the protocol version, and the
//! DER walk that finds those names. The handshake checks the server's
//! signatures but not its chain: whether the chain is trusted is what the
//! real, verified request of the same check decides, and this probe only
//! says *who* signed the certificate the server showed (a TLS-inspecting
//! proxy's CA shows up here). No application data is sent.
//! Refuses: trusting anything it sees — nothing from this connection is used
//! for a request.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::der::{OID, SEQUENCE, SET, element};

/// What the server showed in its handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The end-entity certificate's subject (`CN=…, O=…`), when readable.
    pub subject: Option<String>,
    /// Its issuer (`CN=Amazon RSA 2048 M02, O=Amazon`), when readable.
    pub issuer: Option<String>,
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
}

/// Accepts any chain and checks only the handshake signatures.
#[derive(Debug)]
struct ShowAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for ShowAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Runs a TLS handshake with `server_name` over `stream` (already connected),
/// within `timeout`, and returns what the server showed.
///
/// # Errors
/// What failed: a name that is not a DNS name or IP, a timeout, the server
/// refusing the handshake, or no certificate.
pub fn peer_info(
    mut stream: TcpStream,
    server_name: &str,
    timeout: Duration,
) -> Result<PeerInfo, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::clone(&provider) as Arc<CryptoProvider>)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ShowAny(algorithms)))
            .with_no_client_auth();
    let name = ServerName::try_from(server_name.trim_matches(['[', ']']).to_owned())
        .map_err(|e| format!("{server_name:?} is not a DNS name or IP address: {e}"))?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    while conn.is_handshaking() {
        if started.elapsed() > timeout {
            return Err(format!(
                "no TLS handshake within {} s",
                timeout.as_secs_f64()
            ));
        }
        conn.complete_io(&mut stream).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no TLS handshake within {} s", timeout.as_secs_f64())
            }
            std::io::ErrorKind::UnexpectedEof => {
                "the server closed the connection during the TLS handshake (is it plain HTTP?)"
                    .to_owned()
            }
            _ => crate::text::clean(&e.to_string(), 300),
        })?;
    }
    let cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("the server sent no certificate")?;
    let (subject, issuer) = names(cert.as_ref()).unwrap_or((None, None));
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    }
    .to_owned();
    // A polite close; nothing else was sent.
    conn.send_close_notify();
    let _ = conn.write_tls(&mut stream);
    let _ = stream.flush();
    let mut sink = [0u8; 1];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.read(&mut sink);
    Ok(PeerInfo {
        subject,
        issuer,
        version,
    })
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];

/// A Name's `CN` and `O` as `CN=…, O=…` (string types read as UTF-8, others
/// skipped); `None` when it has neither.
fn name_text(name: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    let mut rdns = name;
    while let Some((SET, set, rest)) = element(rdns) {
        rdns = rest;
        let mut atvs = set;
        while let Some((SEQUENCE, atv, rest)) = element(atvs) {
            atvs = rest;
            let Some((OID, oid, value)) = element(atv) else {
                continue;
            };
            let label = if oid == OID_CN {
                "CN"
            } else if oid == OID_O {
                "O"
            } else {
                continue;
            };
            // UTF8String, PrintableString, IA5String, T61String.
            if let Some((0x0c | 0x13 | 0x16 | 0x14, text, _)) = element(value) {
                let text = String::from_utf8_lossy(text);
                parts.push(format!("{label}={}", crate::text::clean(&text, 200)));
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The subject and issuer of an X.509 certificate (RFC 5280 §4.1:
/// `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
/// serialNumber, signature, issuer, validity, subject, … } … }`).
fn names(der: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let (SEQUENCE, cert, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] EXPLICIT version.
    if let Some((0xa0, _, after)) = element(rest) {
        rest = after;
    }
    let (_serial, _, rest) = element(rest)?;
    let (_signature, _, rest) = element(rest)?;
    let (SEQUENCE, issuer, rest) = element(rest)? else {
        return None;
    };
    let (_validity, _, rest) = element(rest)?;
    let (SEQUENCE, subject, _) = element(rest)? else {
        return None;
    };
    Some((name_text(subject), name_text(issuer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a DER TLV (short or long form length).
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            let len = content.len().to_be_bytes();
            let skip = len.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (len.len() - skip) as u8);
            out.extend_from_slice(&len[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    fn name(cn: &str, o: &str) -> Vec<u8> {
        let rdn = |oid: &[u8], v: &str| {
            tlv(
                SET,
                &tlv(SEQUENCE, &[tlv(OID, oid), tlv(0x0c, v.as_bytes())].concat()),
            )
        };
        tlv(SEQUENCE, &[rdn(OID_O, o), rdn(OID_CN, cn)].concat())
    }

    #[test]
    fn reads_subject_and_issuer_names() {
        let tbs = tlv(
            SEQUENCE,
            &[
                tlv(0xa0, &tlv(0x02, &[2])),
                tlv(0x02, &[1; 20]),
                tlv(SEQUENCE, &tlv(OID, &[0x2a, 0x86, 0x48])),
                name("Corp Inspection CA", "Example Corp"),
                tlv(
                    SEQUENCE,
                    &[tlv(0x17, b"260101000000Z"), tlv(0x17, b"270101000000Z")].concat(),
                ),
                name("aws-mcp.us-east-1.api.aws", "Amazon"),
                tlv(SEQUENCE, &vec![0u8; 300]),
            ]
            .concat(),
        );
        let cert = tlv(
            SEQUENCE,
            &[tbs, tlv(SEQUENCE, &[]), tlv(0x03, &[0])].concat(),
        );
        assert_eq!(
            names(&cert),
            Some((
                Some("O=Amazon, CN=aws-mcp.us-east-1.api.aws".to_owned()),
                Some("O=Example Corp, CN=Corp Inspection CA".to_owned())
            ))
        );
        // Truncated or not a certificate: nothing, and no panic.
        for cut in 0..cert.len() {
            let _ = names(&cert[..cut]);
        }
        assert_eq!(names(b"\x30\x84\xff\xff\xff\xff"), None);
    }
}
