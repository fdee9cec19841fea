//! The wire fuzz: `zicht serve` as its own process (the release binary) fed mutated protocol
//! messages over real connections, then abandoned handshakes. What a hostile or buggy client can
//! send must never crash, hang or leak the server:
//!
//! - each case logs in, sends one to four valid messages (simple and extended protocol, COPY,
//!   function calls, a password after login) with one to three mutations (bit flips, random bytes,
//!   truncation, insertions, length and count fields set to edge values, another type byte), then
//!   a Sync, and reads until ReadyForQuery or the close; one case in ten mutates the startup packet
//!   (or an SSL or cancel request) instead;
//! - a case that closes is expected to get an ErrorResponse first; one that stays silent for the
//!   read timeout is waiting for bytes a mutated length announced (PostgreSQL waits too), and the
//!   fuzzer hangs up;
//! - cases run some at once, in batches of 250; after each batch a fresh connection must answer
//!   `SELECT 1` within the timeout (the server answers others whatever one connection does);
//! - then the abandoned handshakes: connections closed at once, after part of a startup packet, or
//!   after a whole one; afterwards every connection slot (the server runs with a small
//!   `--max-connections`) must be free again;
//! - at the end: the server's resident memory against what it was after the first batch (the
//!   warm-up), "panicked" in its log, and its exit on SIGTERM.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::FuzzArgs;
use crate::soak::{free_port, start_server, stop_server, wait_for_server};
use crate::suite::{BenchResult, connect_loopback, dataset, memory_status_bytes};

#[derive(Serialize, Default)]
struct FuzzReport {
    cases: u64,
    messages: u64,
    answered: u64,
    closed_after_error: u64,
    closed_without_error: u64,
    waiting_for_announced_bytes: u64,
    liveness_checks: u64,
    liveness_failures: u64,
    dropped_handshakes: u64,
    slots_free_after: bool,
    /// Resident memory after the first batch of cases (the warm-up: every path once, the parser
    /// and planner threads' stacks touched), and after the handshakes.
    rss_start: u64,
    rss_end: u64,
    /// Resident memory after each batch of cases.
    rss_per_batch: Vec<u64>,
    /// Cancel requests (also mutated ones) are closed without an answer, as PostgreSQL does.
    cancel_requests_closed: u64,
    panics_in_log: usize,
    server_exit: String,
    seconds: f64,
    first_problems: Vec<String>,
    /// The first bytes sent in cases that were closed without an ErrorResponse (a Terminate or a
    /// cancel request is closed silently, as PostgreSQL does).
    closed_without_error_samples: Vec<String>,
}

pub async fn run(args: FuzzArgs) -> BenchResult<()> {
    let data = dataset(&args.target.data_root, 0.01, 42)?;
    let work = PathBuf::from("target/fuzz");
    std::fs::create_dir_all(&work)?;
    let port = free_port()?;
    let slots = args.max_connections.to_string();
    let mut server = start_server(
        &args.target.server,
        &data,
        port,
        &work.join("audit.jsonl"),
        &work,
        &["--max-connections", &slots],
    )?;
    let started = Instant::now();
    let outcome = fuzz(&args, port, server.id()).await;
    let server_exit = stop_server(&mut server);
    let mut report = outcome?;
    report.server_exit = server_exit;
    report.seconds = started.elapsed().as_secs_f64();
    let log = std::fs::read_to_string(work.join("server.log")).unwrap_or_default();
    report.panics_in_log = log.matches("panicked").count();
    print_summary(&report);
    std::fs::create_dir_all(&args.output)?;
    let path = args.output.join("fuzz-wire.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {}", path.display());
    let grew = report.rss_end as f64 > report.rss_start as f64 * 1.2;
    if report.liveness_failures > 0 || !report.slots_free_after || report.panics_in_log > 0 || grew {
        return Err("the wire fuzz found a problem (see above)".into());
    }
    Ok(())
}

async fn fuzz(args: &FuzzArgs, port: u16, pid: u32) -> BenchResult<FuzzReport> {
    wait_for_server(port).await?;
    let timeout = Duration::from_secs_f64(args.read_timeout);
    let mut report = FuzzReport::default();
    let mut random = Random(args.seed.max(1));
    let mut case = 0;
    while case < args.cases {
        // A batch of cases, some at once (a silent one waits out its timeout), then a check that the
        // server still answers a fresh connection.
        let batch = (args.cases - case).min(250);
        let mut tasks = tokio::task::JoinSet::new();
        let running = std::sync::Arc::new(tokio::sync::Semaphore::new(args.concurrency));
        for index in case..case + batch {
            let mut case_random = Random(random.below(u64::MAX).max(1));
            let running = std::sync::Arc::clone(&running);
            tasks.spawn(async move {
                let _slot = running.acquire_owned().await;
                let mut messages = 0;
                let outcome = match case_random.below(10) {
                    0 => mutated_startup(port, &mut case_random, timeout).await,
                    _ => mutated_messages(port, &mut case_random, timeout, &mut messages).await,
                };
                (index, messages, outcome)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (index, messages, outcome) = done?;
            report.messages += messages;
            report.cases += 1;
            match outcome {
                Ok(Ending::Answered) => report.answered += 1,
                Ok(Ending::ClosedAfterError) => report.closed_after_error += 1,
                Ok(Ending::ClosedWithoutError(sent)) if is_cancel_request(&sent) => report.cancel_requests_closed += 1,
                Ok(Ending::ClosedWithoutError(sent)) => {
                    report.closed_without_error += 1;
                    report.closed_without_error_samples.push(hex(&sent));
                }
                Ok(Ending::Waiting) => report.waiting_for_announced_bytes += 1,
                Err(e) => report.first_problems.push(format!("case {index}: {e}")),
            }
        }
        case += batch;
        report.rss_per_batch.push(rss(pid));
        report.liveness_checks += 1;
        if let Err(e) = alive(port, timeout).await {
            report.liveness_failures += 1;
            report.first_problems.push(format!("after case {case}: the server did not answer: {e}"));
        }
    }
    for handshake in 0..args.handshakes {
        report.dropped_handshakes += drop_handshake(port, handshake, &mut random).await as u64;
    }
    report.slots_free_after = every_slot_free(port, args.max_connections, timeout).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.rss_end = rss(pid);
    report.rss_start = report.rss_per_batch.first().copied().unwrap_or(0);
    report.first_problems.truncate(10);
    report.closed_without_error_samples.truncate(20);
    Ok(report)
}

fn rss(pid: u32) -> u64 {
    memory_status_bytes(&pid.to_string(), "VmRSS:").unwrap_or(0)
}

async fn alive(port: u16, timeout: Duration) -> BenchResult<()> {
    let check = async {
        let client = connect_loopback(port, "fuzz").await?;
        client.simple_query("SELECT 1").await?;
        BenchResult::Ok(())
    };
    tokio::time::timeout(timeout, check).await.map_err(|_| "SELECT 1 timed out")?
}

/// How a case ended.
enum Ending {
    /// ReadyForQuery after the Sync.
    Answered,
    ClosedAfterError,
    /// With what was sent after the login.
    ClosedWithoutError(Vec<u8>),
    /// Silent for the read timeout: a mutated length announced more bytes than were sent.
    Waiting,
}

async fn mutated_messages(port: u16, random: &mut Random, timeout: Duration, sent: &mut u64) -> Result<Ending, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    stream.write_all(&startup_packet()).await.map_err(|e| e.to_string())?;
    if !matches!(read_until_ready(&mut stream, timeout, false).await?, Ending::Answered) {
        return Err("the login of a fuzz connection did not finish".into());
    }
    let count = 1 + random.below(4);
    let mut bytes = Vec::new();
    for _ in 0..count {
        bytes.extend(template(random.below(TEMPLATES)));
    }
    *sent += count;
    for _ in 0..1 + random.below(3) {
        mutate(&mut bytes, random);
    }
    bytes.extend(message(b'S', &[]));
    // The server may close as soon as it reads a violation: writing the rest may then fail.
    let _ = stream.write_all(&bytes).await;
    read_until_ready(&mut stream, timeout, false).await.map(|ending| ending.sent(bytes))
}

async fn mutated_startup(port: u16, random: &mut Random, timeout: Duration) -> Result<Ending, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let mut bytes = match random.below(3) {
        0 => startup_packet(),
        1 => [8i32.to_be_bytes(), 80877103i32.to_be_bytes()].concat(),
        _ => [16i32.to_be_bytes(), 80877102i32.to_be_bytes(), 7i32.to_be_bytes(), 9i32.to_be_bytes()].concat(),
    };
    for _ in 0..1 + random.below(3) {
        mutate_anywhere(&mut bytes, random);
    }
    let _ = stream.write_all(&bytes).await;
    let after_ssl_request = bytes.get(4..8) == Some(&80877103i32.to_be_bytes()[..]);
    read_until_ready(&mut stream, timeout, after_ssl_request).await.map(|ending| ending.sent(bytes))
}

impl Ending {
    fn sent(self, bytes: Vec<u8>) -> Ending {
        match self {
            Ending::ClosedWithoutError(_) => Ending::ClosedWithoutError(bytes),
            other => other,
        }
    }
}

/// A cancel request's code (80877102) after the length.
fn is_cancel_request(sent: &[u8]) -> bool {
    sent.get(4..8) == Some(&80877102i32.to_be_bytes()[..])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(48).map(|b| format!("{b:02x}")).collect()
}

/// Reads backend messages until ReadyForQuery, the close, or `timeout` of silence. After an SSL
/// request the first byte is its one-byte answer, then the server waits for a startup packet.
async fn read_until_ready(
    stream: &mut TcpStream,
    timeout: Duration,
    after_ssl_request: bool,
) -> Result<Ending, String> {
    let mut buffer = Vec::new();
    let mut saw_error = false;
    let mut ssl_answered = false;
    loop {
        if after_ssl_request && !ssl_answered && buffer.first().is_some_and(|b| *b == b'N' || *b == b'S') {
            buffer.remove(0);
            ssl_answered = true;
        }
        while let Some((kind, length)) = next_message(&buffer) {
            saw_error |= kind == b'E';
            if kind == b'Z' {
                return Ok(Ending::Answered);
            }
            buffer.drain(..length);
        }
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(timeout, stream.read(&mut chunk)).await {
            Err(_) if ssl_answered && buffer.is_empty() => return Ok(Ending::Answered),
            Err(_) => return Ok(Ending::Waiting),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Ok(if saw_error { Ending::ClosedAfterError } else { Ending::ClosedWithoutError(vec![]) });
            }
            Ok(Ok(n)) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The type and whole length of the first complete message in `buffer`.
fn next_message(buffer: &[u8]) -> Option<(u8, usize)> {
    let header: [u8; 4] = buffer.get(1..5)?.try_into().ok()?;
    let length = 1 + i32::from_be_bytes(header).max(4) as usize;
    (buffer.len() >= length).then(|| (buffer[0], length))
}

/// Closed at once, after part of a startup packet, or after a whole one (no authentication
/// follows for the user this server knows, but a connection that stops reading must not keep its
/// slot either). True when the connection was made.
async fn drop_handshake(port: u16, index: u64, random: &mut Random) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else { return false };
    let packet = startup_packet();
    let sent = match index % 3 {
        0 => 0,
        1 => 1 + random.below(packet.len() as u64 - 1) as usize,
        _ => packet.len(),
    };
    let _ = stream.write_all(&packet[..sent]).await;
    true
}

/// Every one of `slots` connections can log in at once.
async fn every_slot_free(port: u16, slots: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout * 3;
    loop {
        let mut clients = Vec::new();
        for _ in 0..slots {
            match connect_loopback(port, "fuzz").await {
                Ok(client) => clients.push(client),
                Err(_) => break,
            }
        }
        // Slots of dropped connections are freed as the server notices the close.
        if clients.len() == slots || Instant::now() > deadline {
            return clients.len() == slots;
        }
        drop(clients);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn startup_packet() -> Vec<u8> {
    let mut body = 196608i32.to_be_bytes().to_vec();
    for part in ["user", "fuzz", "database", "zicht", "application_name", "zicht-bench-fuzz"] {
        body.extend(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    [((body.len() + 4) as i32).to_be_bytes().to_vec(), body].concat()
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    [vec![kind], ((body.len() + 4) as i32).to_be_bytes().to_vec(), body.to_vec()].concat()
}

const TEMPLATES: u64 = 14;

/// One valid frontend message of each kind a client sends after login.
fn template(index: u64) -> Vec<u8> {
    let cstr = |s: &str| [s.as_bytes(), &[0]].concat();
    let i16s = |values: &[i16]| values.iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
    match index {
        0 => message(b'Q', &cstr("SELECT 1")),
        1 => message(b'Q', &cstr("SELECT gm_code, inwoners FROM regio.gemeente ORDER BY 1 LIMIT 3")),
        2 => {
            message(b'P', &[cstr("s1"), cstr("SELECT $1::int + 1"), i16s(&[1]), 23i32.to_be_bytes().to_vec()].concat())
        }
        3 => message(
            b'B',
            &[cstr(""), cstr("s1"), i16s(&[1, 0, 1]), 1i32.to_be_bytes().to_vec(), b"5".to_vec(), i16s(&[0])].concat(),
        ),
        4 => message(b'E', &[cstr(""), 0i32.to_be_bytes().to_vec()].concat()),
        5 => message(b'D', &[b"S".to_vec(), cstr("s1")].concat()),
        6 => message(b'C', &[b"P".to_vec(), cstr("")].concat()),
        7 => message(b'H', &[]),
        8 => message(b'd', b"1\t2\n"),
        9 => message(b'c', &[]),
        10 => message(b'f', &cstr("stop")),
        11 => message(b'F', &[1259i32.to_be_bytes().to_vec(), i16s(&[0, 0]), i16s(&[0])].concat()),
        12 => message(b'p', &cstr("secret")),
        _ => message(b'Q', &cstr("SELECT count(*) FROM basis.persoon")),
    }
}

/// One mutation of a run of messages, aimed at their header fields half of the time.
fn mutate(bytes: &mut Vec<u8>, random: &mut Random) {
    let starts = message_starts(bytes);
    if random.below(2) == 0 && !starts.is_empty() {
        let start = starts[random.below(starts.len() as u64) as usize];
        match random.below(3) {
            0 => bytes[start] = random.below(256) as u8,
            _ => {
                let length = edge_value(random).to_be_bytes();
                bytes[start + 1..start + 5].copy_from_slice(&length);
            }
        }
    } else {
        mutate_anywhere(bytes, random);
    }
}

fn mutate_anywhere(bytes: &mut Vec<u8>, random: &mut Random) {
    if bytes.is_empty() {
        bytes.push(random.below(256) as u8);
        return;
    }
    let at = random.below(bytes.len() as u64) as usize;
    match random.below(6) {
        0 => bytes[at] ^= 1 << random.below(8),
        1 => bytes[at] = random.below(256) as u8,
        2 => bytes.truncate(at),
        3 => {
            let inserted: Vec<u8> = (0..1 + random.below(16)).map(|_| random.below(256) as u8).collect();
            bytes.splice(at..at, inserted);
        }
        4 if at + 4 <= bytes.len() => bytes[at..at + 4].copy_from_slice(&edge_value(random).to_be_bytes()),
        _ if at + 2 <= bytes.len() => {
            let count = [0i16, 1, -1, i16::MAX, i16::MIN][random.below(5) as usize];
            bytes[at..at + 2].copy_from_slice(&count.to_be_bytes());
        }
        _ => bytes[at] = 0,
    }
}

fn edge_value(random: &mut Random) -> i32 {
    [0, 1, 3, 4, 5, -1, -2, i32::MAX, i32::MIN, 1 << 20, random.below(1 << 31) as i32][random.below(11) as usize]
}

/// Where each message of an unmutated run starts.
fn message_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 5 <= bytes.len() {
        starts.push(at);
        let length = i32::from_be_bytes(bytes[at + 1..at + 5].try_into().expect("four bytes"));
        if length < 4 {
            break;
        }
        at += 1 + length as usize;
    }
    starts
}

/// xorshift64*: reproducible from `--seed`, no dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn print_summary(report: &FuzzReport) {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "wire fuzz: {} cases ({} mutated messages) in {:.0} s: {} answered, {} closed after an ErrorResponse, {} cancel requests closed, {} closed without an ErrorResponse, {} waiting for announced bytes",
        report.cases,
        report.messages,
        report.seconds,
        report.answered,
        report.closed_after_error,
        report.cancel_requests_closed,
        report.closed_without_error,
        report.waiting_for_announced_bytes
    );
    println!(
        "liveness: {} checks, {} failures; {} abandoned handshakes, every slot free after: {}",
        report.liveness_checks, report.liveness_failures, report.dropped_handshakes, report.slots_free_after
    );
    println!(
        "server RSS {:.0} MiB after the first batch, {:.0}-{:.0} MiB after each, {:.0} MiB at the end; {} panics in its log; exit: {}",
        mib(report.rss_start),
        mib(report.rss_per_batch.iter().copied().min().unwrap_or(0)),
        mib(report.rss_per_batch.iter().copied().max().unwrap_or(0)),
        mib(report.rss_end),
        report.panics_in_log,
        report.server_exit
    );
    for problem in &report.first_problems {
        println!("problem: {problem}");
    }
    for sample in &report.closed_without_error_samples {
        println!("closed without an ErrorResponse after: {sample}");
    }
}
