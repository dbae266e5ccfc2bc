//! The peers: thread pools that run closures, each built on a thread budget, and
//! the workq front ends set up the same way.
//!
//! A peer has no "queue this item unless it is already pending": where a scenario
//! needs it, it uses the usual hand-rolled `AtomicBool` flag (see
//! [`Flag`](crate::peers::Flag)).

pub(crate) mod crossbeam;
mod flag;
pub(crate) mod rayon;
mod stp;
pub(crate) mod threadpool;
pub(crate) mod tokio;
pub(crate) mod workq;

pub(crate) use self::tokio::{
    current_thread as tokio_current_thread, multi_thread as tokio_multi_thread,
};
pub(crate) use flag::Flag;
pub(crate) use stp::pool as stp_pool;

use std::time::Duration;

/// Which peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeerKind {
    /// tokio's blocking pool (`spawn_blocking`, `max_blocking_threads`).
    Tokio,
    /// A rayon `ThreadPool` (`spawn`).
    Rayon,
    /// The `threadpool` crate.
    ThreadPool,
    /// The `scheduled-thread-pool` crate.
    Stp,
    /// A hand-rolled pool: a crossbeam channel of boxed closures and N threads.
    Crossbeam,
}

impl PeerKind {
    /// Every closure-running peer, in column order.
    pub(crate) const ALL: [PeerKind; 5] = [
        PeerKind::Tokio,
        PeerKind::Rayon,
        PeerKind::ThreadPool,
        PeerKind::Stp,
        PeerKind::Crossbeam,
    ];

    /// The column name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PeerKind::Tokio => "tokio",
            PeerKind::Rayon => "rayon",
            PeerKind::ThreadPool => "threadpool",
            PeerKind::Stp => "sched-tp",
            PeerKind::Crossbeam => "crossbeam",
        }
    }

    /// A pool of `threads` threads; `keep_alive` is the idle timeout of the peers
    /// that have one (tokio), the others keep their threads.
    pub(crate) fn build(self, threads: usize, keep_alive: Duration) -> Peer {
        match self {
            PeerKind::Tokio => Peer::Tokio(tokio::Blocking::new(threads, keep_alive)),
            PeerKind::Rayon => Peer::Rayon(rayon::Rayon::new(threads)),
            PeerKind::ThreadPool => Peer::ThreadPool(threadpool::Plain::new(threads)),
            PeerKind::Stp => Peer::Stp(stp::Stp::new(threads)),
            PeerKind::Crossbeam => Peer::Crossbeam(crossbeam::Channel::new(threads)),
        }
    }
}

/// The columns of a scenario that runs workq against every closure peer.
pub(crate) const COLUMNS: [&str; 6] = [
    "workq",
    "tokio",
    "rayon",
    "threadpool",
    "sched-tp",
    "crossbeam",
];

/// One running peer pool.
pub(crate) enum Peer {
    Tokio(tokio::Blocking),
    Rayon(rayon::Rayon),
    ThreadPool(threadpool::Plain),
    Stp(stp::Stp),
    Crossbeam(crossbeam::Channel),
}

impl Peer {
    /// Runs `f` on the pool (each peer's own submit call).
    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) {
        match self {
            Peer::Tokio(p) => p.spawn(f),
            Peer::Rayon(p) => p.spawn(f),
            Peer::ThreadPool(p) => p.spawn(f),
            Peer::Stp(p) => p.spawn(f),
            Peer::Crossbeam(p) => p.spawn(f),
        }
    }

    /// Stops the pool and waits for its threads where the peer allows it.
    pub(crate) fn shutdown(self) {
        match self {
            Peer::Tokio(p) => p.shutdown(),
            Peer::Rayon(p) => p.shutdown(),
            Peer::ThreadPool(p) => p.shutdown(),
            Peer::Stp(p) => p.shutdown(),
            Peer::Crossbeam(p) => p.shutdown(),
        }
    }
}
