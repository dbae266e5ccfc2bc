//! The machine and the date a report was made on.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where and when a run happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    /// CPUs available to the process (what `nproc` prints).
    pub nproc: usize,
    /// The CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel release (`/proc/sys/kernel/osrelease`).
    pub kernel: String,
    /// The UTC date and time of the run.
    pub date: String,
    /// `release` or `debug` (debug numbers are not meaningful).
    pub build: &'static str,
    /// `git describe --always --dirty` of the working directory, if it is a
    /// repository: the code the numbers belong to.
    pub revision: Option<String>,
    /// The 1-minute load average when the run started (`/proc/loadavg`): other
    /// work on the machine skews every number.
    pub load: Option<f64>,
}

impl Machine {
    /// This machine, now.
    pub fn current() -> Machine {
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".to_string()),
            date: utc_now(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            revision: revision(),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok()),
        }
    }
}

fn revision() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The UTC date and time from the system clock (days to civil date after Howard
/// Hinnant's algorithm).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil(secs)
}

fn civil(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::civil(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::civil(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
