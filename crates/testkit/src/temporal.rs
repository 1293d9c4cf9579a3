//! A Temporal worker inside a test process, on its own thread (the SDK's
//! worker is not `Send`), on a task queue of its own.

use std::sync::Arc;
use tokio::sync::oneshot;
use workflows::temporal::TemporalConfig;

/// The test cluster's settings with a fresh task queue, so workers of other
/// tests (other databases) never take this test's tasks. Under `CI=true` a
/// missing cluster fails the test.
pub fn config() -> TemporalConfig {
    let address = std::env::var("BIZOSAAS_TEST_TEMPORAL_ADDRESS").expect(
        "BIZOSAAS_TEST_TEMPORAL_ADDRESS is not set: Temporal tests need the dev server. \\
         Run `scripts/test.sh` (or `scripts/services.sh` and source the env file it writes).",
    );
    let mut c = TemporalConfig::local(address);
    c.task_queue = format!("bizosaas-test-{}", uuid::Uuid::now_v7().simple());
    c
}

/// A worker polling until dropped.
pub struct WorkerThread {
    stop: Option<oneshot::Sender<()>>,
}

impl WorkerThread {
    /// Starts a worker for `registry`, its activities writing to the
    /// database at `db` and to `data_dir`, reading connections' credentials
    /// from `secrets` (without it, it runs no connector syncs). It has a runtime and a
    /// connection pool of its own, as a worker process would, so it outlives
    /// the test's runtime without touching it.
    pub fn spawn(
        config: TemporalConfig,
        registry: Arc<workflows::Registry>,
        db: store::DbConfig,
        data_dir: std::path::PathBuf,
        secrets: Option<secrets::Backend>,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the test worker");
            let outcome = rt.block_on(async move {
                let store = store::Store::connect(&db)
                    .await
                    .map_err(|e| e.to_string())?;
                let connectors = match secrets {
                    Some(backend) => Some(workflows::ConnectorEnv {
                        secrets: secrets::open(
                            &backend,
                            &store,
                            std::time::Duration::from_secs(30),
                        )
                        .map_err(|e| e.to_string())?,
                        // Test providers listen on loopback.
                        registry: app::connectors::registry(true),
                    }),
                    None => None,
                };
                let env = workflows::ActivityEnv {
                    store,
                    data_dir,
                    connectors,
                };
                workflows::temporal::run_worker(&config, registry, env, async move {
                    let _ = stopped.await;
                })
                .await
            });
            if let Err(e) = outcome {
                eprintln!("test Temporal worker stopped: {e}");
            }
        });
        Self { stop: Some(stop) }
    }
}

impl Drop for WorkerThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A TLS front for the test cluster, which speaks plain gRPC only: it
/// accepts TLS on a port of its own with a certificate from a CA made for
/// it (demanding a client certificate from that CA too, for mutual TLS) and
/// passes the bytes on. Stops when dropped.
pub struct TlsFront {
    /// `127.0.0.1:port` to connect to.
    pub address: String,
    /// PEM files: the CA, and a client certificate and key it signed.
    pub files: workflows::temporal::TlsFiles,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Starts a front for the cluster in `BIZOSAAS_TEST_TEMPORAL_ADDRESS`.
    pub async fn start(require_client_cert: bool) -> anyhow::Result<Self> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        use tokio_rustls::rustls::{self, pki_types};
        let upstream = config().address;
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "bizosaas test CA");
        let ca = ca_params.self_signed(&ca_key)?;
        let server_key = KeyPair::generate()?;
        let server = CertificateParams::new(vec!["127.0.0.1".to_string()])?.signed_by(
            &server_key,
            &ca,
            &ca_key,
        )?;
        let client_key = KeyPair::generate()?;
        let mut client_params = CertificateParams::new(vec!["bizosaas-worker".to_string()])?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "bizosaas worker");
        let client = client_params.signed_by(&client_key, &ca, &ca_key)?;

        let dir = tempfile::tempdir()?;
        let write = |name: &str, pem: String| -> anyhow::Result<std::path::PathBuf> {
            let path = dir.path().join(name);
            std::fs::write(&path, pem)?;
            Ok(path)
        };
        let files = workflows::temporal::TlsFiles {
            ca: Some(write("ca.pem", ca.pem())?),
            cert: Some(write("client.pem", client.pem())?),
            key: Some(write("client.key", client_key.serialize_pem())?),
        };

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.der().clone())?;
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = pki_types::PrivateKeyDer::try_from(server_key.serialize_der())
            .map_err(|e| anyhow::anyhow!("server key: {e}"))?;
        let mut tls = builder.with_single_cert(vec![server.der().clone()], key)?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    // A handshake the front refuses just ends the connection.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    if let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        Ok(Self {
            address,
            files,
            _dir: dir,
            task,
        })
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
