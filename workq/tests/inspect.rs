//! The inspection endpoint against real processes: this test binary re-runs
//! itself (`inspect/support.rs`) as an inspected program that builds queues and
//! runs work, and as clients of it: a well-behaved reader, one sending random
//! bytes, one sending a 10 MiB line, one that never reads nor writes, one that
//! leaves mid-stream. After all of them a fresh client is still served. And a
//! client that stops reading is dropped once 1 MiB waits for it, while another
//! goes on being served.
#![cfg(all(feature = "inspect", unix))]
#![allow(clippy::unwrap_used)]

#[path = "inspect/support.rs"]
mod support;

use std::io::{BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::{mark, role, Client, Proc, TempDir};
use workq::inspect::{Level, Message};
use workq::{Pool, QueueKind, Snapshot, Work, WorkQueue, Worker};

/// The error line's text.
const READ_ONLY: &str = "the endpoint is read-only; it accepts no requests";

/// The entry of every re-run: plays the role its environment names (a plain
/// run of the suite does nothing here).
#[test]
fn role_entry() {
    let Some(role) = role() else {
        return;
    };
    let sock = std::env::var("SOCK").expect("SOCK names the socket");
    let sock = std::path::Path::new(&sock);
    match role.as_str() {
        "program" => program(sock),
        "reader" => reader(sock),
        "garbage" => refused(sock, random_bytes(4096), "garbage-ok"),
        "huge" => {
            let mut line = vec![b'a'; 10 << 20];
            line.push(b'\n');
            refused(sock, line, "huge-ok");
        }
        "silent" => silent(sock),
        "disconnect" => disconnect(sock),
        "fresh" => fresh(sock),
        "program-big" => program_big(sock),
        "slow" => slow(sock),
        "watch" => watch(sock),
        other => panic!("unknown role {other}"),
    }
    std::process::exit(0);
}

/// The inspected program: a pool, a worker and a workqueue running work, served
/// at `sock`. Reads commands from stdin (`panic`); stops serving at its end.
fn program(sock: &std::path::Path) {
    let pool = Pool::builder().name("inspected-pool").build().unwrap();
    let worker = Worker::new("inspected-worker").unwrap();
    let wq = WorkQueue::builder("inspected-wq")
        .pool(&pool)
        .max_active(2)
        .build()
        .unwrap();
    let mut endpoint = workq::inspect::serve_at(sock).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (pool, wq, stop) = (pool.clone(), wq.clone(), stop.clone());
        std::thread::spawn(move || {
            let on_pool = Work::named("busy", |_| {});
            let on_wq = Work::named("busy-wq", |_| {});
            while !stop.load(Ordering::Relaxed) {
                pool.queue(&on_pool).unwrap();
                wq.queue(&on_wq).unwrap();
                // Pacing only: work keeps running while clients come and go.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    mark("ready");
    for line in std::io::stdin().lock().lines() {
        match line.unwrap().as_str() {
            "panic" => {
                worker
                    .queue(&Work::named("boom", |_| panic!("boom: injected")))
                    .unwrap();
            }
            other => panic!("unknown command {other}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    endpoint.stop();
    assert!(!sock.exists(), "the socket file is removed at stop");
    mark("stopped");
}

/// Checks the hello line and the first snapshot; returns the snapshot's queues.
fn greeted(client: &mut Client) -> Vec<Snapshot> {
    let pid: u32 = std::env::var("PROGRAM_PID").unwrap().parse().unwrap();
    let exe = std::env::current_exe().unwrap();
    match client.message() {
        Message::Hello {
            pid: got,
            program,
            interval_ms,
        } => {
            assert_eq!(got, pid);
            assert_eq!(program, exe.file_name().unwrap().to_string_lossy());
            assert_eq!(interval_ms, 500);
        }
        other => panic!("not a hello: {other:?}"),
    }
    match client.message() {
        Message::Snapshot { seq: 0, queues, .. } => {
            let kind = |name: &str| queues.iter().find(|q| q.name == name).map(|q| q.kind);
            assert_eq!(kind("inspected-pool"), Some(QueueKind::Pool));
            assert_eq!(kind("inspected-worker"), Some(QueueKind::Worker));
            assert_eq!(kind("inspected-wq"), Some(QueueKind::WorkQueue));
            let wq = queues.iter().find(|q| q.name == "inspected-wq").unwrap();
            assert_eq!(wq.max_active, Some(2));
            queues
        }
        other => panic!("not the first snapshot: {other:?}"),
    }
}

fn runs_of(queues: &[Snapshot], name: &str) -> u64 {
    queues.iter().find(|q| q.name == name).unwrap().stats.runs
}

/// A well-behaved reader: hello, snapshots numbered 0, 1, 2, ... and the report
/// of the panic the test has the program make once this reader is greeted.
fn reader(sock: &std::path::Path) {
    let mut client = Client::connect(sock);
    greeted(&mut client);
    mark("hello-ok");
    let mut next_seq = 1;
    let mut report = None;
    while report.is_none() || next_seq < 3 {
        match client.message() {
            Message::Snapshot { seq, unix_ms, .. } => {
                assert_eq!(seq, next_seq);
                assert!(unix_ms > 0);
                next_seq += 1;
            }
            Message::Report {
                level,
                text,
                unix_ms,
                ..
            } if text.contains("'boom'") => {
                assert_eq!(level, Level::Error);
                assert!(unix_ms > 0);
                assert!(
                    text.contains("'inspected-worker'") && text.contains("boom: injected"),
                    "{text}"
                );
                report = Some(text);
            }
            Message::Report { .. } => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    mark("report-ok");
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A client that sends `bytes`: it gets the error line, then the end of the
/// stream (whatever of `bytes` the endpoint did not take is discarded).
fn refused(sock: &std::path::Path, bytes: Vec<u8>, ok: &str) {
    let mut client = Client::connect(sock);
    greeted(&mut client);
    // The endpoint may close before it has taken everything: the write then fails.
    let _ = client.stream().write_all(&bytes);
    let mut last = None;
    let mut lines = 0;
    while let Some(line) = client.raw_line() {
        lines += 1;
        last = Some(line);
    }
    let last = last.expect("an error line");
    match Message::from_line(&last).unwrap() {
        Message::Error { message } => assert_eq!(message, READ_ONLY),
        other => panic!("the last of {lines} line(s) is not the error: {other:?}"),
    }
    mark(ok);
}

/// Connects, then neither reads nor writes until its stdin ends.
fn silent(sock: &std::path::Path) {
    let client = Client::connect(sock);
    mark("connected");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(client);
}

/// Reads the hello and part of the next line, then leaves.
fn disconnect(sock: &std::path::Path) {
    let mut client = Client::connect(sock);
    assert!(matches!(client.message(), Message::Hello { .. }));
    let mut part = [0u8; 16];
    client.reader.read_exact(&mut part).unwrap();
    assert_eq!(&part[..8], b"{\"v\":1,\"");
    drop(client);
    mark("disconnect-ok");
}

/// A client after all the others: served as the first one was, and the program
/// still runs work.
fn fresh(sock: &std::path::Path) {
    let mut client = Client::connect(sock);
    let first = greeted(&mut client);
    let mut next_seq = 1;
    let last = loop {
        match client.message() {
            Message::Snapshot { seq, queues, .. } => {
                assert_eq!(seq, next_seq);
                next_seq += 1;
                if seq == 2 {
                    break queues;
                }
            }
            Message::Report { .. } => {}
            other => panic!("unexpected: {other:?}"),
        }
    };
    assert!(runs_of(&last, "inspected-pool") > runs_of(&first, "inspected-pool"));
    assert!(runs_of(&last, "inspected-wq") > runs_of(&first, "inspected-wq"));
    mark("fresh-ok");
}

#[test]
fn real_clients_cannot_disturb_a_real_program() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("clients");
    let sock = dir.join("program.sock");
    let sock_env = sock.to_str().unwrap();
    let mut program = Proc::start("role_entry", "program", &[("SOCK", sock_env)]);
    program.expect("ready");
    let pid = program.child.id().to_string();
    let env = [("SOCK", sock_env), ("PROGRAM_PID", pid.as_str())];

    let silent = Proc::start("role_entry", "silent", &env);
    silent.expect("connected");

    let reader = Proc::start("role_entry", "reader", &env);
    reader.expect("hello-ok");
    program.tell("panic");
    reader.expect("report-ok");
    reader.succeed();

    for role in ["garbage", "huge", "disconnect"] {
        let client = Proc::start("role_entry", role, &env);
        client.expect(&format!("{role}-ok"));
        client.succeed();
    }

    // A second endpoint at the live one's path, from this third process: refused.
    match workq::inspect::serve_at(&sock) {
        Err(workq::Error::Inspect { reason, .. }) => {
            assert!(reason.contains("live"), "{reason}")
        }
        other => panic!("a live endpoint's path was taken: {other:?}"),
    }

    let fresh = Proc::start("role_entry", "fresh", &env);
    fresh.expect("fresh-ok");
    fresh.succeed();

    silent.succeed();
    program.close_stdin();
    program.expect("stopped");
    let stderr = program.succeed();
    assert!(stderr.contains("work item 'boom'"), "{stderr}");
    assert!(!sock.exists());
}

/// A name of 256 KiB: each snapshot line of a pool so named is over 512 KiB
/// (the pool's and its thread's names), so a client that does not read passes
/// the endpoint's 1 MiB bound within a few snapshots.
fn big_name() -> String {
    "n".repeat(256 << 10)
}

/// A program with a pool of one thread and a very long name, served at `sock`
/// until its stdin ends.
fn program_big(sock: &std::path::Path) {
    let pool = Pool::builder()
        .name(big_name())
        .min_threads(1)
        .max_threads(1)
        .build()
        .unwrap();
    let work = Work::new(|_| {});
    pool.queue(&work).unwrap(); // first use: the thread starts
    work.flush().unwrap();
    let endpoint = workq::inspect::serve_at(sock).unwrap();
    mark("ready");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(endpoint);
    drop(pool);
}

/// Connects and reads nothing until told (a stdin line); then reads to the
/// end and reports how many whole lines it got.
fn slow(sock: &std::path::Path) {
    let mut client = Client::connect(sock);
    mark("connected");
    let mut told = String::new();
    std::io::stdin().read_line(&mut told).unwrap();
    let mut whole = 0;
    while let Some(line) = client.raw_line() {
        if line.ends_with('\n') {
            whole += 1;
        }
    }
    mark(&format!("dropped after {whole}"));
}

/// Reads snapshots and marks `seq-N` at each from 8 on; ends at 12.
fn watch(sock: &std::path::Path) {
    let mut client = Client::connect(sock);
    assert!(matches!(client.message(), Message::Hello { .. }));
    loop {
        if let Message::Snapshot { seq, queues, .. } = client.message() {
            assert!(queues.iter().any(|q| q.name == big_name()));
            if seq >= 8 {
                mark(&format!("seq-{seq}"));
            }
            if seq == 12 {
                break;
            }
        }
    }
}

#[test]
fn a_client_that_does_not_read_is_dropped_and_others_are_served() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("slow");
    let sock = dir.join("big.sock");
    let env = [("SOCK", sock.to_str().unwrap())];
    let program = Proc::start("role_entry", "program-big", &env);
    program.expect("ready");
    let mut slow = Proc::start("role_entry", "slow", &env);
    slow.expect("connected");
    let watch = Proc::start("role_entry", "watch", &env);
    // Snapshot 8 went out to the slow client too (or it was dropped before):
    // over 4 MiB, more than its 1 MiB bound and the socket's buffers hold.
    watch.expect("seq-8");
    slow.tell("read");
    let dropped = slow.line();
    let whole: usize = dropped
        .strip_prefix("dropped after ")
        .unwrap()
        .parse()
        .unwrap();
    // The hello and the snapshots that fitted, far fewer than the 9 sent.
    assert!((1..8).contains(&whole), "{dropped}");
    slow.succeed();
    for seq in 9..=12 {
        watch.expect(&format!("seq-{seq}"));
    }
    watch.succeed();
    program.succeed();
}
