//! The terminal while a live view (`workq demo`'s or `workq top`'s) is on: raw
//! mode and the alternate screen, restored on every way out (the guard's drop,
//! and the panic hook for a panic on the view's thread, which restores before
//! the message is printed); whether a terminal is big enough; the quit keys.
//!
//! One demo item panics on purpose on a pool thread. workq catches that panic and
//! reports it through the pool's hook, but std's panic hook runs first and would
//! print over the live view: the hook installed here prints nothing for panics on
//! other threads while the view is on (it routes them to the log with `--log`).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use std::any::Any;
use std::io::{self, Write};
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// Whether the terminal is in raw mode on the alternate screen (the live view is
/// on).
static RAW: AtomicBool = AtomicBool::new(false);

/// Keeps the terminal set up for the live view; dropping it restores it.
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, and hides the cursor.
    ///
    /// # Errors
    /// The terminal could not be set up (it is restored again).
    pub fn enter() -> io::Result<TerminalGuard> {
        terminal::enable_raw_mode()?;
        RAW.store(true, Ordering::SeqCst);
        if let Err(e) = execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide) {
            restore();
            return Err(e);
        }
        Ok(TerminalGuard(()))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and raw mode and shows the cursor, if the live
/// view had set them up; does nothing otherwise (so calling it twice is fine).
pub fn restore() {
    if RAW.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
        let _ = terminal::disable_raw_mode();
    }
}

/// Whether `--log` routes panics on other threads to the log.
static PANICS_TO_LOG: AtomicBool = AtomicBool::new(false);

/// Whether a panic on a thread other than the view's prints on standard error
/// now (no live view, no `--log`).
pub fn panics_go_to_stderr() -> bool {
    !tui_active() && !PANICS_TO_LOG.load(Ordering::SeqCst)
}

/// Whether the live view is on.
pub fn tui_active() -> bool {
    RAW.load(Ordering::SeqCst)
}

/// A flag set by SIGTERM or SIGHUP from now on (unix), so the live view can wind
/// the demo down and restore the terminal instead of the process dying in raw
/// mode. Where the handlers cannot be installed the flag just stays unset.
pub fn quit_on_signals() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        let _ = signal_hook::flag::register(signal, flag.clone());
    }
    flag
}

/// The message of a panic payload.
fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

/// Installs the demo's panic hook; call it on the thread that runs the view.
///
/// * A panic on this thread restores the terminal, then std's usual report is
///   printed (so it is readable, and the program's exit is not left in raw mode).
/// * A panic on another thread (such as the item that panics on purpose on a pool
///   thread, which workq catches and reports itself) goes to the log with `--log`;
///   without it, it prints nothing while the live view is on and one line on
///   standard error otherwise.
pub fn install_panic_hook(log: bool) {
    PANICS_TO_LOG.store(log, Ordering::SeqCst);
    let view_thread = thread::current().id();
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let current = thread::current();
        if current.id() == view_thread {
            restore();
            previous(info);
            return;
        }
        let name = current.name().unwrap_or("<unnamed>");
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = message(info.payload());
        if log {
            tracing::error!(target: "workq::demo", "thread '{name}' panicked{place}: {msg}");
        } else if !tui_active() {
            let _ = writeln!(io::stderr(), "(std) thread '{name}' panicked{place}: {msg}");
        }
    }));
}

/// The smallest terminal the live view is drawn on (80x24 fits).
pub const MIN_SIZE: (u16, u16) = (64, 20);

/// Whether the live view can be drawn on a terminal of `size` (columns, rows;
/// `None` when the terminal does not say).
///
/// # Errors
/// Why not, in words: no size, a 0x0 size, or smaller than [`MIN_SIZE`].
pub fn fits(size: Option<(u16, u16)>) -> Result<(), String> {
    let (min_w, min_h) = MIN_SIZE;
    match size {
        None => Err("the terminal does not report its size".to_string()),
        Some((w, h)) if w == 0 || h == 0 => Err(format!("the terminal reports a size of {w}x{h}")),
        Some((w, h)) if w < min_w || h < min_h => Err(format!(
            "the terminal is {w}x{h}; the live view needs at least {min_w}x{min_h}"
        )),
        Some(_) => Ok(()),
    }
}

/// `q`, Esc or Ctrl-C.
pub fn is_quit(key: &KeyEvent) -> bool {
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => true,
        KeyCode::Char('c') => key.modifiers.contains(KeyModifiers::CONTROL),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_without_a_size_gets_the_plain_view() {
        assert!(fits(None).is_err());
        let zero = fits(Some((0, 0))).err().unwrap_or_default();
        assert!(zero.contains("0x0"), "{zero}");
        assert!(fits(Some((80, 0))).is_err());
        let small = fits(Some((40, 10))).err().unwrap_or_default();
        assert!(small.contains("at least 64x20"), "{small}");
        assert_eq!(fits(Some((80, 24))), Ok(()));
        assert_eq!(fits(Some((200, 60))), Ok(()));
    }
}
