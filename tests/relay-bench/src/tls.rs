//! The TLS mode's certificates: a CA made at start (P-256, written as PEM for
//! the proxies: `AWS_CA_BUNDLE` for mcp-sigv4 and botocore, `SSL_CERT_FILE` for
//! httpx), a leaf for `127.0.0.1` and `localhost` signed by it, the upstream's
//! rustls server config and the baseline client's rustls client config.
//! Refuses: touching any system trust store.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The bench's PKI.
pub struct Pki {
    /// The upstream's TLS config (TLS 1.2 and 1.3, HTTP/1.1 via ALPN).
    pub server: Arc<rustls::ServerConfig>,
    /// A client config trusting only the bench's CA.
    pub client: Arc<rustls::ClientConfig>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Pki {
    /// Makes the CA and the leaf, writes the CA's PEM to `ca_pem`.
    pub fn new(ca_pem: &Path) -> Result<Pki, String> {
        let e = |e: rcgen::Error| e.to_string();
        let ca_key = KeyPair::generate().map_err(e)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mcp-sigv4 relay-bench CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).map_err(e)?;

        let leaf_key = KeyPair::generate().map_err(e)?;
        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(e)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "relay-bench upstream");
        let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).map_err(e)?;
        std::fs::write(ca_pem, ca.pem()).map_err(|e| format!("{}: {e}", ca_pem.display()))?;

        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).map_err(|e| e.to_string())?;
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Pki {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}
