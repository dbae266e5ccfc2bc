//! The inspection endpoint's path rules (directory, what is at the socket's
//! place, symlinks never followed) and `WORKQ_INSPECT`, read at a process's
//! first build (checked in child processes: this test binary re-run).
#![cfg(all(feature = "inspect", unix))]
#![allow(clippy::unwrap_used)]

#[path = "inspect/support.rs"]
mod support;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use support::{mark, role, Client, Proc, TempDir};
use workq::inspect::{default_socket_path, serve_at, Message};
use workq::Error;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// The reason `serve_at(path)` is refused for.
fn refused(path: &Path) -> String {
    match serve_at(path) {
        Err(Error::Inspect { path: p, reason }) => {
            assert_eq!(p, path);
            let shown = Error::Inspect {
                path: p,
                reason: reason.clone(),
            }
            .to_string();
            assert!(shown.contains(&reason) && shown.contains("inspection endpoint"));
            reason
        }
        other => panic!("{} was taken: {other:?}", path.display()),
    }
}

/// A client gets the hello of this process.
fn greets_us(path: &Path) {
    let mut client = Client::connect(path);
    match client.message() {
        Message::Hello { pid, .. } => assert_eq!(pid, std::process::id()),
        other => panic!("not a hello: {other:?}"),
    }
}

#[test]
fn a_missing_directory_is_made_private_and_the_socket_is_0600() {
    let dir = TempDir::new("mkdir");
    let sock = dir.join("sub").join("a.sock");
    let mut endpoint = serve_at(&sock).unwrap();
    assert_eq!(mode(&dir.join("sub")), 0o700);
    assert_eq!(mode(&sock), 0o600);
    assert!(std::fs::symlink_metadata(&sock)
        .unwrap()
        .file_type()
        .is_socket());
    greets_us(&sock);
    endpoint.stop();
    assert!(!sock.exists(), "stop removes the socket file");
    drop(endpoint); // after stop: nothing more to do
}

#[test]
fn a_symlink_at_the_path_is_refused_and_not_followed() {
    let dir = TempDir::new("link");
    let target = dir.join("target");
    std::fs::write(&target, "keep").unwrap();
    let sock = dir.join("a.sock");
    std::os::unix::fs::symlink(&target, &sock).unwrap();
    assert!(refused(&sock).contains("symlink"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert!(std::fs::symlink_metadata(&sock)
        .unwrap()
        .file_type()
        .is_symlink());
    // A dangling symlink too.
    std::fs::remove_file(&target).unwrap();
    assert!(refused(&sock).contains("symlink"));
    assert!(!target.exists(), "nothing was made through the link");
}

#[test]
fn a_regular_file_or_a_directory_at_the_path_is_refused_and_kept() {
    let dir = TempDir::new("file");
    let file = dir.join("a.sock");
    std::fs::write(&file, "data").unwrap();
    assert!(refused(&file).contains("regular file"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");
    let sub = dir.join("b.sock");
    std::fs::create_dir(&sub).unwrap();
    assert!(refused(&sub).contains("directory"));
    assert!(sub.is_dir());
}

#[test]
fn a_live_foreign_socket_is_refused_and_a_stale_one_replaced() {
    let dir = TempDir::new("sock");
    let sock = dir.join("a.sock");
    let live = UnixListener::bind(&sock).unwrap();
    assert!(refused(&sock).contains("live"));
    drop(live); // the file stays: a stale socket
    assert!(sock.exists());
    let endpoint = serve_at(&sock).unwrap();
    greets_us(&sock);
    // A workq endpoint is live too.
    assert!(refused(&sock).contains("live"));
    drop(endpoint);
    assert!(!sock.exists());
}

#[test]
fn an_unsafe_directory_is_refused() {
    let dir = TempDir::new("dirs");
    let open = dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(refused(&open.join("a.sock")).contains("written by others"));
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o720)).unwrap();
    assert!(refused(&open.join("a.sock")).contains("written by others"));
    let real = dir.join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(refused(&link.join("a.sock")).contains("symlink"));
    assert!(!real.join("a.sock").exists());
    let file = dir.join("file");
    std::fs::write(&file, "").unwrap();
    assert!(refused(&file.join("a.sock")).contains("not a directory"));
    let deep = dir.join("missing").join("deeper").join("a.sock");
    assert!(refused(&deep).contains("cannot create"));
}

/// Runs `default_socket_path` in a child with `env` and returns what it printed.
fn default_path_in_child(env: &[(&str, &str)]) -> (PathBuf, u32) {
    let child = Proc::start("role_entry", "default-path", env);
    let pid = child.child.id();
    let path = PathBuf::from(child.line());
    child.succeed();
    (path, pid)
}

#[test]
fn the_default_path_is_under_xdg_runtime_dir_else_the_temp_dir() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("default");
    let runtime = dir.join("run");
    let tmp = dir.join("tmp");
    let (runtime, tmp) = (runtime.to_str().unwrap(), tmp.to_str().unwrap());
    let (path, pid) = default_path_in_child(&[("XDG_RUNTIME_DIR", runtime), ("TMPDIR", tmp)]);
    assert_eq!(
        path,
        Path::new(runtime).join("workq").join(format!("{pid}.sock"))
    );
    let uid = dir.uid();
    for xdg in ["relative/dir", ""] {
        let (path, pid) = default_path_in_child(&[("XDG_RUNTIME_DIR", xdg), ("TMPDIR", tmp)]);
        let want = Path::new(tmp)
            .join(format!("workq-{uid}"))
            .join(format!("{pid}.sock"));
        assert_eq!(path, want);
    }
}

/// The entry of every re-run.
#[test]
fn role_entry() {
    let Some(role) = role() else {
        return;
    };
    match role.as_str() {
        "default-path" => {
            let path = default_socket_path(std::process::id()).unwrap();
            mark(path.to_str().unwrap());
        }
        "env-program" => env_program(),
        other => panic!("unknown role {other}"),
    }
    std::process::exit(0);
}

/// Builds a worker (the first build reads `WORKQ_INSPECT`), says whether a
/// socket is at `EXPECT` then, and runs until its stdin ends.
fn env_program() {
    let worker = workq::Worker::new("env-worker").unwrap();
    let expect = PathBuf::from(std::env::var("EXPECT").unwrap());
    let there = std::fs::symlink_metadata(&expect).is_ok_and(|m| m.file_type().is_socket());
    mark(if there { "serving" } else { "not serving" });
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest);
    drop(worker);
}

/// Starts `env-program` with `WORKQ_INSPECT=value`; returns it and its first line.
fn env_child(value: &str, expect: &Path, xdg: &Path) -> (Proc, String) {
    let child = Proc::start(
        "role_entry",
        "env-program",
        &[
            ("WORKQ_INSPECT", value),
            ("EXPECT", expect.to_str().unwrap()),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    let line = child.line();
    (child, line)
}

#[test]
fn workq_inspect_serves_from_the_first_build() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("env");
    let xdg = dir.join("run");
    std::fs::create_dir(&xdg).unwrap();

    // A path of its own.
    let sock = dir.join("env.sock");
    let (child, line) = env_child(sock.to_str().unwrap(), &sock, &xdg);
    assert_eq!(line, "serving");
    let mut client = Client::connect(&sock);
    match client.message() {
        Message::Hello { pid, .. } => assert_eq!(pid, child.child.id()),
        other => panic!("not a hello: {other:?}"),
    }
    match client.message() {
        Message::Snapshot { queues, .. } => assert!(queues.iter().any(|q| q.name == "env-worker")),
        other => panic!("not a snapshot: {other:?}"),
    }
    child.succeed();

    // `1`: the default path, under XDG_RUNTIME_DIR, named by the child's pid;
    // its first line comes after its first build, so the socket is there then.
    let child = Proc::start(
        "role_entry",
        "env-program",
        &[
            ("WORKQ_INSPECT", "1"),
            ("EXPECT", "/nonexistent"),
            ("XDG_RUNTIME_DIR", xdg.to_str().unwrap()),
        ],
    );
    let _ = child.line();
    let sock = xdg.join("workq").join(format!("{}.sock", child.child.id()));
    assert!(sock.exists(), "no socket at {}", sock.display());
    assert_eq!(mode(&xdg.join("workq")), 0o700);
    let mut client = Client::connect(&sock);
    assert!(matches!(client.message(), Message::Hello { pid, .. } if pid == child.child.id()));
    child.succeed();
}

#[test]
fn workq_inspect_off_or_failing_serves_nothing_and_builds_anyway() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("env-off");
    let xdg = dir.join("run");
    std::fs::create_dir(&xdg).unwrap();
    for value in ["", "0"] {
        let (child, line) = env_child(value, &dir.join("none.sock"), &xdg);
        assert_eq!(line, "not serving", "WORKQ_INSPECT={value:?}");
        let stderr = child.succeed();
        assert!(!stderr.contains("WORKQ_INSPECT"), "{stderr}");
        assert_eq!(std::fs::read_dir(&xdg).unwrap().count(), 0, "nothing made");
    }
    // A path that cannot be served: a trouble line, no panic, the build succeeds.
    let file = dir.join("file");
    std::fs::write(&file, "").unwrap();
    let bad = file.join("x.sock");
    let (child, line) = env_child(bad.to_str().unwrap(), &bad, &xdg);
    assert_eq!(line, "not serving");
    let stderr = child.succeed();
    assert!(
        stderr.contains("workq: WORKQ_INSPECT: cannot serve the inspection endpoint"),
        "{stderr}"
    );
}
