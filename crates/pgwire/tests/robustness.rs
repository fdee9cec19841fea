//! The server survives anything a client sends: raw protocol abuse (messages that crashed pgwire's
//! decoders, huge row limits, unexpected messages during login, oversized messages), statements
//! too long or too deep to plan, and shutdown with connections open. Each test checks the answer
//! a PostgreSQL client gets (SQLSTATE) and that the server goes on serving.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::NoTls;

mod common;
use common::*;

/// A raw protocol connection, for what no client library sends.
struct Raw(TcpStream);

impl Raw {
    /// Connects and sends the startup message (the test server without users needs no password).
    async fn login(server: &TestServer) -> Raw {
        let mut raw = Raw(TcpStream::connect(server.address).await.unwrap());
        raw.send_startup().await;
        let until_ready = raw.read_until(b'Z').await;
        assert!(until_ready.iter().all(|(kind, _)| *kind != b'E'), "login failed");
        raw
    }

    async fn send_startup(&mut self) {
        let mut body = 196608u32.to_be_bytes().to_vec();
        body.extend_from_slice(b"user\0analist\0database\0zicht\0\0");
        let mut message = (body.len() as i32 + 4).to_be_bytes().to_vec();
        message.extend_from_slice(&body);
        self.0.write_all(&message).await.unwrap();
    }

    async fn send(&mut self, kind: u8, body: &[u8]) {
        let mut message = vec![kind];
        message.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        message.extend_from_slice(body);
        let _ = self.0.write_all(&message).await;
    }

    /// The next backend message, or None when the server closed the connection (or 20 s passed).
    async fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        let read = async {
            let kind = self.0.read_u8().await.ok()?;
            let length = self.0.read_i32().await.ok()?;
            let mut body = vec![0; usize::try_from(length).ok()?.checked_sub(4)?];
            self.0.read_exact(&mut body).await.ok()?;
            Some((kind, body))
        };
        tokio::time::timeout(Duration::from_secs(20), read).await.ok().flatten()
    }

    /// Messages up to and including the first of type `kind` (or the end of the connection).
    async fn read_until(&mut self, kind: u8) -> Vec<(u8, Vec<u8>)> {
        let mut messages = Vec::new();
        while let Some(message) = self.next().await {
            let last = message.0 == kind;
            messages.push(message);
            if last {
                break;
            }
        }
        messages
    }

    /// The SQLSTATE and severity of the first ErrorResponse before the connection closes, and
    /// whether it did close.
    async fn error_then_close(&mut self) -> (String, String, bool) {
        let mut error = None;
        while let Some((kind, body)) = self.next().await {
            if kind == b'E' && error.is_none() {
                error = Some((field(&body, b'C'), field(&body, b'S')));
            }
        }
        let (code, severity) = error.unwrap_or_default();
        (code, severity, true)
    }
}

/// A field of an ErrorResponse body.
fn field(body: &[u8], code: u8) -> String {
    body.split(|&b| b == 0)
        .find(|part| part.first() == Some(&code))
        .map(|part| String::from_utf8_lossy(&part[1..]).into_owned())
        .unwrap_or_default()
}

/// The server still answers a new client.
async fn assert_alive(server: &TestServer) {
    let client = server.connect().await.expect("the server accepts a new connection");
    assert_eq!(client.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_that_crashed_the_decoder_get_08p01_and_the_server_lives() {
    let server = TestServer::start(|_| {}).await;
    let mut bind_past_end = b"\0\0\0\0\0\x01".to_vec();
    bind_past_end.extend_from_slice(&1000i32.to_be_bytes());
    bind_past_end.extend_from_slice(b"42\0\0");
    let cases: Vec<(u8, Vec<u8>, &str)> = vec![
        (b'p', vec![], "password message of length 4"),
        (b'B', bind_past_end, "bind parameter past the end"),
        (b'E', b"\0".to_vec(), "execute without its row limit"),
        (b'F', vec![0, 0, 0, 0], "function call"),
        (b'Q', b"SELECT 1".to_vec(), "unterminated query"),
    ];
    for (kind, body, name) in cases {
        let mut raw = Raw::login(&server).await;
        raw.send(kind, &body).await;
        let (code, severity, _) = raw.error_then_close().await;
        assert_eq!((code.as_str(), severity.as_str()), ("08P01", "FATAL"), "{name}");
    }
    // Lengths below the minimum, raw.
    for bytes in [&[b'p', 0, 0, 0, 0][..], &[b'Q', 0, 0, 0, 2, 0], &[b'S', 0xff, 0xff, 0xff, 0xff]] {
        let mut raw = Raw::login(&server).await;
        raw.0.write_all(bytes).await.unwrap();
        let (code, _, _) = raw.error_then_close().await;
        assert_eq!(code, "08P01", "{bytes:?}");
    }
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_over_the_limit_is_refused_before_it_is_read() {
    let server = TestServer::start(|config| config.max_message_bytes = 64 * 1024).await;
    let mut raw = Raw::login(&server).await;
    // Only the header: the server must not wait for (or allocate) the gigabyte it announces.
    raw.0.write_all(&[b'Q', 0x3f, 0xff, 0xff, 0xff]).await.unwrap();
    let (code, severity, _) = raw.error_then_close().await;
    assert_eq!((code.as_str(), severity.as_str()), ("08P01", "FATAL"));
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unexpected_message_during_login_gets_fatal_08p01_at_once() {
    let server = TestServer::start(with_user).await;
    let mut raw = Raw(TcpStream::connect(server.address).await.unwrap());
    raw.send_startup().await;
    let challenge = raw.read_until(b'R').await;
    assert_eq!(challenge.last().map(|m| m.0), Some(b'R'), "SASL challenge expected");
    let started = Instant::now();
    raw.send(b'Q', b"SELECT 1\0").await;
    let (code, severity, _) = raw.error_then_close().await;
    assert_eq!((code.as_str(), severity.as_str()), ("08P01", "FATAL"));
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    // A SASLInitialResponse cut short: refused, not a panic.
    let mut raw = Raw(TcpStream::connect(server.address).await.unwrap());
    raw.send_startup().await;
    raw.read_until(b'R').await;
    raw.send(b'p', b"SCRAM-SHA-256\0\x00\x00").await;
    let (code, severity, _) = raw.error_then_close().await;
    assert_eq!((code.as_str(), severity.as_str()), ("08P01", "FATAL"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_that_never_finish_lose_their_slot_at_the_deadline() {
    let server = TestServer::start(|config| {
        with_user(config);
        config.max_connections = 2;
        config.authentication_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut raw = Raw(TcpStream::connect(server.address).await.unwrap());
        raw.send_startup().await;
        stalled.push(raw);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_rows_is_a_limit_not_a_capacity() {
    let server = TestServer::start(|_| {}).await;
    let mut client = server.connect().await.unwrap();
    let transaction = client.transaction().await.unwrap();
    let sql = "SELECT gm_code FROM regio.gemeente ORDER BY gm_code";
    let all = transaction.query(sql, &[]).await.unwrap().len();
    for max_rows in [i32::MAX, -1, 0] {
        let portal = transaction.bind(sql, &[]).await.unwrap();
        let rows = transaction.query_portal(&portal, max_rows).await.unwrap();
        assert_eq!(rows.len(), all, "max_rows {max_rows}");
    }
    // A real limit still pages: 100, then the rest.
    let portal = transaction.bind(sql, &[]).await.unwrap();
    assert_eq!(transaction.query_portal(&portal, 100).await.unwrap().len(), 100);
    assert_eq!(transaction.query_portal(&portal, i32::MAX).await.unwrap().len(), all - 100);
    assert!(transaction.query_portal(&portal, 10).await.unwrap().is_empty());
    transaction.commit().await.unwrap();
    assert_alive(&server).await;
    server.stop().await;
}

/// Statements that overflowed the stack and aborted the process: each is refused with 54001 (or
/// 54000 for length), in the simple and the extended protocol, and the server lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statements_too_deep_or_too_long_get_54xxx() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let chain = |term: &str, op: &str, n: usize| vec![term; n].join(op);
    let ctes = (1..1000).map(|i| format!("c{i} AS (SELECT x + 1 AS x FROM c{})", i - 1)).collect::<Vec<_>>().join(", ");
    let deep = [
        ("10,000-term sum", format!("SELECT {}", chain("1", "+", 10_000))),
        ("10,000-term concatenation", format!("SELECT {}", chain("'ab'", "||", 10_000))),
        ("10,000-term AND chain", format!("SELECT 1 WHERE {}", chain("true", " AND ", 10_000))),
        ("10,000-term OR chain", format!("SELECT 1 WHERE {}", chain("1 = 2", " OR ", 10_000))),
        ("5,000 UNION ALLs", chain("SELECT 1", " UNION ALL ", 5_000)),
        ("1,000 chained CTEs", format!("WITH c0 AS (SELECT 1 AS x), {ctes} SELECT x FROM c999")),
        ("sum over a protected table", format!("SELECT {} FROM basis.persoon", chain("1", "+", 10_000))),
    ];
    for (name, sql) in &deep {
        let error = client.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&error), "54001", "{name}: {error}");
        let error = client.prepare(sql).await.unwrap_err();
        assert_eq!(sqlstate(&error), "54001", "{name}, prepared: {error}");
    }
    let long = format!("SELECT '{}'", "x".repeat(2 << 20));
    assert_eq!(sqlstate(&client.simple_query(&long).await.unwrap_err()), "54000");
    let many = format!("SELECT 1 WHERE 1 IN ({})", chain("1", ",", 60_000));
    assert_eq!(sqlstate(&client.simple_query(&many).await.unwrap_err()), "54001");
    // Within the limits: a 200-term sum and an IN list of 10,000 values are answered.
    let sum: i32 = client.query_one(&format!("SELECT {}", chain("1", "+", 200)), &[]).await.unwrap().get(0);
    assert_eq!(sum, 200);
    let sql = format!("SELECT count(*) FROM regio.gemeente WHERE inwoners IN ({})", chain("1", ",", 10_000));
    assert_eq!(client.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0), 0);
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_tells_every_connection_why_it_closes() {
    let server = TestServer::start(|config| config.shutdown_grace = Duration::from_secs(2)).await;
    let mut idle = Raw::login(&server).await;
    let mut busy = Raw::login(&server).await;
    busy.send(b'Q', b"SELECT count(*) FROM generate_series(1, 1000000000000) t(x) WHERE x % 7 = 3\0").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let address = server.address;
    let stopping = tokio::spawn(server.stop());
    // An idle connection hears 57P01 at once.
    let (code, severity, _) = idle.error_then_close().await;
    assert_eq!((code.as_str(), severity.as_str()), ("57P01", "FATAL"));
    // A client that connects during the grace period hears 57P03.
    let mut late = Raw(TcpStream::connect(address).await.unwrap());
    late.send_startup().await;
    let (code, _, _) = late.error_then_close().await;
    assert_eq!(code, "57P03");
    // The running query is stopped when the grace period ends, with 57P01.
    let (code, severity, _) = busy.error_then_close().await;
    assert_eq!((code.as_str(), severity.as_str()), ("57P01", "FATAL"));
    stopping.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_requests_still_reach_running_queries() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    let cancel = client.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel_query(NoTls).await.unwrap();
    });
    let error = client.simple_query("SELECT count(*) FROM generate_series(1, 1000000000000)").await.unwrap_err();
    assert_eq!(sqlstate(&error), "57014");
    assert_eq!(client.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    server.stop().await;
}

/// statement_timeout covers planning: sixteen nested subqueries take seconds to plan (planning is
/// exponential in their nesting, which the statement limits bound), and the client hears 57014
/// at its deadline, not when planning ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statement_timeout_covers_planning() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect().await.unwrap();
    client.batch_execute("SET statement_timeout = 200").await.unwrap();
    let nested = format!("SELECT {} 1 {}", "(SELECT ".repeat(16), ")".repeat(16));
    let started = Instant::now();
    let error = client.simple_query(&nested).await.unwrap_err();
    assert_eq!(sqlstate(&error), "57014", "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "answered after {:?}", started.elapsed());
    assert_alive(&server).await;
    server.stop().await;
}

/// Collects audit events in memory.
#[derive(Debug, Default)]
struct Recorded(std::sync::Mutex<Vec<zicht_engine::AuditEvent>>);

impl zicht_engine::AuditSink for Recorded {
    fn record(&self, event: &zicht_engine::AuditEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// One audit line per statement received, whatever its fate: a syntax error, a statement too
/// deep, an unknown table, a read-only refusal, a setting, a timeout, an aborted transaction's
/// refusal, a completed query.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_statement_gets_one_audit_line() {
    let recorded = std::sync::Arc::new(Recorded::default());
    let sink = std::sync::Arc::clone(&recorded);
    let server = TestServer::start_with(|options| options.with_audit(sink), |_| {}).await;
    let client = server.connect().await.unwrap();
    let before = recorded.0.lock().unwrap().len();
    let statements: Vec<(String, &str)> = vec![
        ("SELEC 1".into(), "42601"),
        (format!("SELECT {}", vec!["1"; 1000].join("+")), "54001"),
        ("SELECT * FROM regio.nope".into(), "42P01"),
        ("CREATE TABLE t (x int)".into(), "42501"),
        ("SET application_name = 'audit'".into(), "ok"),
        ("SET statement_timeout = 300".into(), "ok"),
        ("SELECT count(*) FROM generate_series(1, 1000000000000) t(x) WHERE x % 7 = 3".into(), "57014"),
        ("SELECT 1".into(), "ok"),
    ];
    for (sql, expected) in &statements {
        let answer = match client.simple_query(sql).await {
            Ok(_) => "ok".to_string(),
            Err(error) => sqlstate(&error),
        };
        assert_eq!(answer, *expected, "{sql}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = recorded.0.lock().unwrap()[before..].to_vec();
    let codes: Vec<String> = events.iter().map(|e| e.sqlstate.clone().unwrap_or_else(|| "ok".into())).collect();
    let expected: Vec<&str> = statements.iter().map(|(_, code)| *code).collect();
    assert_eq!(codes, expected, "{events:#?}");
    server.stop().await;
}
