//! The hand-rolled baseline: an unbounded crossbeam channel of boxed closures and
//! N threads receiving from it.

use crossbeam_channel::{unbounded, Sender};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

/// N threads on one channel.
pub(crate) struct Channel {
    tx: Sender<Job>,
    threads: Vec<JoinHandle<()>>,
}

impl Channel {
    pub(crate) fn new(threads: usize) -> Channel {
        let (tx, rx) = unbounded::<Job>();
        let threads = (0..threads)
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("crossbeam-{i}"))
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    })
                    .expect("start a crossbeam pool thread")
            })
            .collect();
        Channel { tx, threads }
    }

    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.tx
            .send(Box::new(f))
            .expect("the pool's threads hold the receiver");
    }

    /// Closes the channel and joins the threads (after the queued jobs).
    pub(crate) fn shutdown(self) {
        drop(self.tx);
        for t in self.threads {
            let _ = t.join();
        }
    }
}
