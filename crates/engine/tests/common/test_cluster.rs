//! With `ZICHT_TEST_CLUSTER=1`, the attack suite and the red team attack a coordinator of two
//! workers instead of one process (tests/run.sh runs them both ways). The workers run in the
//! test's runtime and serve on loopback ports, so every fragment crosses gRPC as in a real
//! cluster; crates/cli/tests/cluster.rs runs them as separate processes.

use zicht_engine::EngineOptions;
use zicht_engine::cluster::{ClusterOptions, WorkerOptions, serve_worker};

const TOKEN: &str = "attack-suite-cluster-token";

/// `options` as a coordinator of two fresh workers keyed with `secret`, when the environment
/// asks for a cluster.
pub async fn maybe_clustered(options: EngineOptions, secret: &str) -> EngineOptions {
    if std::env::var_os("ZICHT_TEST_CLUSTER").is_none() {
        return options;
    }
    let mut addresses = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap().to_string());
        let worker =
            WorkerOptions { secret_key: secret.to_string(), token: TOKEN.to_string(), memory_limit: Some(1 << 30) };
        tokio::spawn(serve_worker(worker, listener, std::future::pending()));
    }
    // Tiny tasks, so that even the attack fixture's small tables are split over both workers.
    options.with_cluster(ClusterOptions::new(&addresses, TOKEN).unwrap().with_bytes_per_task(1024))
}
