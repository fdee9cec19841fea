//! The test server both wire test files start: an engine on generated data (scale 0.01, seed
//! 42, made once per test binary) behind a `zicht_pgwire::Server` on a free port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_postgres::{Client, NoTls};
use zicht_engine::{Engine, EngineOptions};
use zicht_pgwire::scram::ScramVerifier;
use zicht_pgwire::{Server, ServerConfig, UserConfig};

pub const PASSWORD: &str = "geheim-voor-de-test";

/// The generated data, shared by every test of this file.
pub fn data_dir() -> &'static Path {
    static DATA: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DATA
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let catalog = zicht_catalog::Catalog::embedded().unwrap();
            zicht_gen::generate(&catalog, &zicht_gen::GenConfig { scale: 0.01, seed: 42 }, &data, &mut |_| {}).unwrap();
            (dir, data)
        })
        .1
}

pub struct TestServer {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_with(|options| options, configure).await
    }

    pub async fn start_with(
        engine_options: impl FnOnce(EngineOptions) -> EngineOptions,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let catalog = zicht_catalog::Catalog::embedded().unwrap();
        let queries = zicht_catalog::queries::embedded().unwrap();
        let options = EngineOptions::new(catalog, data_dir())
            .with_saved_queries(queries)
            .with_secret_key("zicht-test-secret-golden");
        let engine = Engine::open(engine_options(options)).await.unwrap();
        let mut config = ServerConfig { port: 0, ..ServerConfig::default() };
        configure(&mut config);
        let server = Server::bind(engine, config).await.unwrap();
        let address = server.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer { address, stop: Some(stop), done }
    }

    pub async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        self.connect_as("analist", PASSWORD).await
    }

    pub async fn connect_as(&self, user: &str, password: &str) -> Result<Client, tokio_postgres::Error> {
        let config =
            format!("host=127.0.0.1 port={} user={user} password={password} dbname=zicht", self.address.port());
        let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), &mut self.done).await;
    }
}

pub fn with_user(config: &mut ServerConfig) {
    config.users.push(UserConfig {
        name: "analist".into(),
        scram_verifier: ScramVerifier::from_password(PASSWORD, 4096),
        access: zicht_engine::AccessLevel::Untrusted,
    });
}

pub fn sqlstate(error: &tokio_postgres::Error) -> String {
    error.code().map(|c| c.code().to_string()).unwrap_or_else(|| format!("no SQLSTATE: {error}"))
}
