//! Handles of the threads a pool starts: std's, or (in the models) the model
//! checker's, joined the same way.

/// A started consumer thread, to be joined at shutdown.
pub(crate) enum Joinable {
    /// Started by the pool's spawner.
    Std(std::thread::JoinHandle<()>),
    /// Started by a model's starter (loom's or shuttle's threads, std's on
    /// real threads).
    #[cfg(test)]
    Model(crate::support::sync::thread::JoinHandle<()>),
}

impl Joinable {
    /// Whether the thread has ended (a model's threads are joined at shutdown
    /// only: never reported finished).
    pub(crate) fn is_finished(&self) -> bool {
        match self {
            Joinable::Std(j) => j.is_finished(),
            #[cfg(test)]
            Joinable::Model(_) => false,
        }
    }

    /// Whether it is the calling thread.
    pub(crate) fn is_current(&self) -> bool {
        match self {
            Joinable::Std(j) => j.thread().id() == std::thread::current().id(),
            #[cfg(test)]
            Joinable::Model(j) => j.thread().id() == crate::support::sync::thread::current().id(),
        }
    }

    /// Waits for the thread to end (its panic, if any, was reported by the
    /// thread itself).
    pub(crate) fn join(self) {
        match self {
            Joinable::Std(j) => drop(j.join()),
            #[cfg(test)]
            Joinable::Model(j) => drop(j.join()),
        }
    }
}
