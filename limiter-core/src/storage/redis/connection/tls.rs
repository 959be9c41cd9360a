//! TLS for `rediss://`, `valkeys://` and TLS cluster nodes: the crypto provider, certificate
//! checks, and recognising a TLS failure among an error's causes (see the [module
//! documentation](super::super#tls)).

use crate::uri::StorageUri;
use redis::{RedisError, RedisResult};
#[cfg(feature = "tls")]
use std::sync::Arc;

/// The certificates a TLS connection is configured with.
#[cfg(feature = "tls")]
pub(crate) type TlsCertificates = redis::TlsCertificates;
/// Without the `tls` feature no certificate can be configured: a type without values.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub(crate) enum TlsCertificates {}

/// The error for TLS certificates given with a URI that does not use TLS.
pub(super) fn certificates_without_tls(uri: &StorageUri) -> RedisError {
    RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "TLS certificates were configured but the URI does not use TLS (rediss://, valkeys://)",
        uri.redacted(),
    ))
}

/// Makes sure rustls has a process-wide crypto provider before a TLS connection is configured:
/// the `redis` crate enables none, so without this rustls would panic. An application's own
/// choice, installed earlier, is kept.
#[cfg(feature = "tls")]
pub(super) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: some provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether a rustls error (a handshake or certificate failure) is among `error`'s causes. The
/// `redis` crate keeps an I/O error behind an `Arc`, and `io::Error::source` skips the error it
/// wraps, so both layers are opened by hand.
#[cfg(feature = "tls")]
pub(crate) fn is_tls_error(error: &RedisError) -> bool {
    type Shared = Arc<dyn std::error::Error + Send + Sync>;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(mut current) = cause {
        if let Some(shared) = current.downcast_ref::<Shared>() {
            current = shared.as_ref();
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            current = inner;
        }
        if current.is::<rustls::Error>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// Fails unless `pem` holds at least one well-formed certificate: the `redis` crate would
/// otherwise trust an empty set and fail later, at the handshake, with a vaguer error.
#[cfg(feature = "tls")]
pub(super) fn check_root_certificates(pem: &[u8]) -> RedisResult<()> {
    use rustls::pki_types::pem::PemObject;
    let mut count = 0;
    for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        certificate.map_err(|error| {
            RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "malformed PEM in the TLS root certificates",
                error.to_string(),
            ))
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "no PEM certificate (BEGIN CERTIFICATE) in the TLS root certificates",
        )));
    }
    Ok(())
}

/// Without the `tls` feature a TLS URI is refused before connecting (`StorageError::NotBuilt`),
/// so nothing needs a crypto provider.
#[cfg(not(feature = "tls"))]
pub(super) fn ensure_crypto_provider() {}

/// Without the `tls` feature no TLS connection is made, so no error comes from TLS.
#[cfg(not(feature = "tls"))]
pub(crate) fn is_tls_error(_error: &RedisError) -> bool {
    false
}

/// A client for the TLS server at `url`, trusting `certificates`.
#[cfg(feature = "tls")]
pub(super) fn client_with_certificates(
    url: &str,
    certificates: TlsCertificates,
) -> RedisResult<redis::Client> {
    redis::Client::build_with_tls(url, certificates)
}

/// Without the `tls` feature there are no certificates to give.
#[cfg(not(feature = "tls"))]
pub(super) fn client_with_certificates(
    _url: &str,
    certificates: TlsCertificates,
) -> RedisResult<redis::Client> {
    match certificates {}
}

/// `builder` trusting `certificates` on its TLS nodes.
#[cfg(feature = "tls")]
pub(super) fn cluster_with_certificates(
    builder: redis::cluster::ClusterClientBuilder,
    certificates: TlsCertificates,
) -> redis::cluster::ClusterClientBuilder {
    builder.certs(certificates)
}

/// Without the `tls` feature there are no certificates to give.
#[cfg(not(feature = "tls"))]
pub(super) fn cluster_with_certificates(
    _builder: redis::cluster::ClusterClientBuilder,
    certificates: TlsCertificates,
) -> redis::cluster::ClusterClientBuilder {
    match certificates {}
}
