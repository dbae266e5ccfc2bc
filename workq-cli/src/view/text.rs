//! Text helpers the views share: short durations, and words wrapped to a width.

use std::time::Duration;

/// A short human duration: `850µs`, `12ms`, `1.25s`.
pub fn short(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{}µs", d.as_micros())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// How long a run has been going, for the views: workq counts a run's time from
/// the first runqueue view that saw it, so a run seen for the first time shows
/// zero; it says `new` instead of `0µs`.
pub fn running_for(d: Duration) -> String {
    if d.is_zero() {
        "new".to_string()
    } else {
        short(d)
    }
}

/// `text` in lines of at most `width` characters, broken between words (a word
/// longer than a line is cut).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        if len > 0 && len + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        while word.len() > width {
            let rest = word.split_off(width - len);
            line.extend(word);
            lines.push(std::mem::take(&mut line));
            len = 0;
            word = rest;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        len += word.len();
        line.extend(word);
    }
    if len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        assert_eq!(short(Duration::from_micros(850)), "850µs");
        assert_eq!(short(Duration::from_millis(12)), "12ms");
        assert_eq!(short(Duration::from_millis(1250)), "1.25s");
        assert_eq!(running_for(Duration::ZERO), "new");
        assert_eq!(running_for(Duration::from_millis(12)), "12ms");
    }

    #[test]
    fn reports_wrap_between_words() {
        let text = "workq: events 'eth0-kevent' backlogged (an event waited 302.5ms); \
                    nothing lost: rx ×3290 (waited 302.5ms), tx ×622";
        let lines = wrap_words(text, 30);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        // Only whole words: joined again they give the text back.
        assert_eq!(lines.join(" "), text);
        assert!(
            lines
                .iter()
                .any(|l| l.split(' ').any(|w| w == "backlogged")),
            "{lines:?}"
        );
        // A word longer than a line is cut, nothing is dropped.
        assert_eq!(wrap_words("abcdefghij kl", 4), ["abcd", "efgh", "ij", "kl"]);
        assert_eq!(wrap_words("", 10), [""]);
    }
}
