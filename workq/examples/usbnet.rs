//! A simulated USB network device, as in the kernel's usbnet driver: interrupt-like
//! threads raise rx, tx and link events; one handler item on a worker takes every
//! pending event at once. Nothing is dropped: when the handler is already pending a
//! raise is folded into its run, and a handler that falls behind is reported as
//! "backlogged".
//!
//! Run with `cargo run -p workq --example usbnet`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use workq::{Events, Worker};

const RX: u8 = 0;
const TX: u8 = 1;
const LINK: u8 = 2;
const NAMES: [&str; 3] = ["rx", "tx", "link"];

fn main() -> Result<(), workq::Error> {
    let worker = Worker::new("usb0-kevent")?;
    let handled: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let h = handled.clone();
    let runs = Arc::new(AtomicU64::new(0));
    let r = runs.clone();
    let events = Arc::new(
        Events::builder("usb0")
            .kinds(3)
            .counted(true)
            .backlog_age(Some(Duration::from_millis(20)))
            .on_backlog(|report| println!("  {report}"))
            .build(worker, move |raised, _ctx| {
                let run = r.fetch_add(1, Ordering::Relaxed) + 1;
                let line: Vec<String> = raised
                    .iter()
                    .map(|(kind, n)| {
                        h[usize::from(kind)].fetch_add(n, Ordering::Relaxed);
                        format!("{} x{n}", NAMES[usize::from(kind)])
                    })
                    .collect();
                if run % 50 == 1 {
                    println!("handler run {run}: {}", line.join(", "));
                }
                // Pretend to talk to the device.
                std::thread::sleep(Duration::from_micros(300));
            })?,
    );

    let irq = |kind: u8, count: u64, pause: Duration| {
        let events = events.clone();
        std::thread::spawn(move || -> Result<(), workq::Error> {
            for _ in 0..count {
                events.raise(kind)?;
                std::thread::sleep(pause);
            }
            Ok(())
        })
    };
    let threads = [
        irq(RX, 20_000, Duration::from_micros(20)),
        irq(TX, 10_000, Duration::from_micros(40)),
        irq(LINK, 20, Duration::from_millis(20)),
    ];
    for t in threads {
        t.join().expect("irq thread")?;
    }
    events.flush()?;

    let stats = events.stats();
    println!(
        "\ntotals after {} handler runs:",
        runs.load(Ordering::Relaxed)
    );
    for (k, name) in NAMES.iter().enumerate() {
        println!(
            "  {name:>4}: raised {:>6}, handled {:>6}, folded into shared runs {:>6}",
            stats.raised[k],
            handled[k].load(Ordering::Relaxed),
            stats.folded[k]
        );
        assert_eq!(stats.raised[k], handled[k].load(Ordering::Relaxed));
    }
    println!(
        "  backlogged runs: {} (nothing was dropped)",
        stats.backlogged
    );
    Ok(())
}
