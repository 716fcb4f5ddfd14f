use super::pki::{Pki, PkiOptions};
use super::*;

#[test]
fn committed_certs_parse_chain_and_outlive_ci() {
    install_default_provider();
    let pki = Pki::embedded();
    // The server and client certificates chain to the committed CA and are valid now and in
    // 20 years (webpki checks names, usages, chain and validity).
    let roots = Arc::new(roots(pki.ca_cert.as_bytes(), "ca").unwrap());
    let server = parse_certs(pki.server_cert.as_bytes(), "server").unwrap();
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .unwrap();
    let in_20_years = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        UnixTime::now().as_secs() + 20 * 365 * 86400,
    ));
    for now in [UnixTime::now(), in_20_years] {
        for name in pki::SERVER_NAMES {
            verifier
                .verify_server_cert(&server[0], &[], &server_name(name).unwrap(), &[], now)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    let client = parse_certs(pki.client_cert.as_bytes(), "client").unwrap();
    let cv = WebPkiClientVerifier::builder_with_provider(roots, provider())
        .build()
        .unwrap();
    for now in [UnixTime::now(), in_20_years] {
        cv.verify_client_cert(&client[0], &[], now).unwrap();
    }
    parse_key(pki.server_key.as_bytes(), "k").unwrap();
    parse_key(pki.client_key.as_bytes(), "k").unwrap();
}

#[test]
fn bad_pem_is_an_error_not_a_panic() {
    let garbage = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n";
    let mut opts = TlsOptions::insecure("localhost");
    opts.verify = Verify::Peer;
    opts.ca_pem = Some(garbage.to_vec());
    assert!(matches!(client_config(&opts), Err(TlsError::BadPem { .. })));
    opts.ca_pem = Some(b"hello".to_vec());
    assert!(matches!(
        client_config(&opts),
        Err(TlsError::NoCertificate { .. })
    ));
    opts.ca_pem = None;
    assert!(matches!(client_config(&opts), Err(TlsError::NoCa)));
    let pki = Pki::embedded();
    opts.ca_pem = Some(pki.ca_cert.clone().into_bytes());
    opts.client_cert_pem = Some(pki.client_cert.clone().into_bytes());
    assert!(matches!(
        client_config(&opts),
        Err(TlsError::HalfClientIdentity)
    ));
    opts.client_key_pem = Some(pki.client_cert.clone().into_bytes());
    assert!(matches!(client_config(&opts), Err(TlsError::NoKey { .. })));
    opts.client_key_pem = Some(pki.client_key.clone().into_bytes());
    client_config(&opts).unwrap();
    assert!(server_name("not a name!").is_err());
}

#[test]
fn generated_pki_with_expired_server_cert_does_not_verify() {
    let pki = Pki::generate(&PkiOptions {
        server_validity: ((2020, 1, 1), (2021, 1, 1)),
        ..Default::default()
    })
    .unwrap();
    let roots = Arc::new(roots(pki.ca_cert.as_bytes(), "ca").unwrap());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .unwrap();
    let server = parse_certs(pki.server_cert.as_bytes(), "server").unwrap();
    let err = verifier
        .verify_server_cert(
            &server[0],
            &[],
            &server_name("localhost").unwrap(),
            &[],
            UnixTime::now(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}
