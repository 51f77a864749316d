//! Container logs as the runtime writes them (CRI format: `<RFC3339Nano time> <stream> <P|F> <text>`,
//! P for a partial line continued on the next), turned back into what the container printed,
//! with `kubectl logs`' options.

use std::io::SeekFrom;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub follow: bool,
    pub timestamps: bool,
    pub tail_lines: Option<usize>,
    pub since: Option<jiff::Timestamp>,
    pub limit_bytes: Option<usize>,
}

/// Turns CRI log lines into output lines, joining partial lines and applying the filters.
pub struct Renderer {
    options: Options,
    partial: Option<(String, String)>,
    written: usize,
}

impl Renderer {
    pub fn new(options: Options) -> Self {
        Self { options, partial: None, written: 0 }
    }

    /// Whether `limitBytes` is used up.
    pub fn done(&self) -> bool {
        self.options.limit_bytes.is_some_and(|limit| self.written >= limit)
    }

    /// One CRI line in, zero or one complete output line (with its newline) out.
    fn line(&mut self, raw: &str) -> Option<(String, String)> {
        let mut fields = raw.splitn(4, ' ');
        let (time, _stream, tag) = (fields.next()?, fields.next()?, fields.next()?);
        let text = fields.next().unwrap_or_default();
        let (first_time, mut content) = self.partial.take().unwrap_or_else(|| (time.to_string(), String::new()));
        content.push_str(text);
        if tag == "P" {
            self.partial = Some((first_time, content));
            return None;
        }
        Some((first_time, content))
    }

    fn keep(&self, time: &str) -> bool {
        match self.options.since {
            Some(since) => time.parse::<jiff::Timestamp>().is_ok_and(|time| time >= since),
            None => true,
        }
    }

    fn format(&mut self, time: &str, content: &str) -> Vec<u8> {
        self.format_line(time, content, true)
    }

    /// A partial line still open when the text read so far ends is given out as it is, without
    /// a newline, as the kubelet does: a container's last words need not end a line.
    fn flush_partial(&mut self) -> Vec<u8> {
        match self.partial.take() {
            Some((time, content)) if self.keep(&time) && !self.done() => self.format_line(&time, &content, false),
            _ => Vec::new(),
        }
    }

    fn format_line(&mut self, time: &str, content: &str, complete: bool) -> Vec<u8> {
        let newline = if complete { "\n" } else { "" };
        let mut out = if self.options.timestamps { format!("{time} {content}{newline}") } else { format!("{content}{newline}") }.into_bytes();
        if let Some(limit) = self.options.limit_bytes {
            out.truncate(limit.saturating_sub(self.written));
        }
        self.written += out.len();
        out
    }

    /// A whole file's worth of CRI text: the output, honouring `tailLines`.
    pub fn render_all(&mut self, text: &str) -> Vec<u8> {
        let joined: Vec<(String, String)> = text.lines().filter_map(|raw| self.line(raw)).collect();
        let lines: Vec<(String, String)> = joined.into_iter().filter(|(time, _)| self.keep(time)).collect();
        let skip = self.options.tail_lines.map_or(0, |tail| lines.len().saturating_sub(tail));
        let mut out = Vec::new();
        for (time, content) in &lines[skip..] {
            if self.done() {
                break;
            }
            out.extend(self.format(time, content));
        }
        out.extend(self.flush_partial());
        out
    }

    /// Lines appended after the first read (tail no longer applies).
    pub fn render_more(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for raw in text.lines() {
            if self.done() {
                break;
            }
            if let Some((time, content)) = self.line(raw)
                && self.keep(&time) {
                    out.extend(self.format(&time, &content));
                }
        }
        out.extend(self.flush_partial());
        out
    }
}

/// Reads a log file from `offset` to its last complete line; returns the text and the new offset.
pub async fn read_from(path: &str, offset: u64) -> std::io::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).await?;
    let complete = bytes.iter().rposition(|byte| *byte == b'\n').map_or(0, |at| at + 1);
    bytes.truncate(complete);
    Ok((String::from_utf8_lossy(&bytes).into_owned(), offset + complete as u64))
}

/// How often a followed log is looked at for more lines.
pub const FOLLOW_POLL: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-01-01T00:00:01.000000001Z stdout F one\n\
                       2026-01-01T00:00:02.000000000Z stderr P tw\n\
                       2026-01-01T00:00:02.500000000Z stderr F o\n\
                       2026-01-01T00:00:03.000000000Z stdout F three\n";

    #[test]
    fn joins_partial_lines_and_applies_options() {
        assert_eq!(Renderer::new(Options::default()).render_all(LOG), b"one\ntwo\nthree\n");
        let tail = Options { tail_lines: Some(2), timestamps: true, ..Options::default() };
        assert_eq!(String::from_utf8(Renderer::new(tail).render_all(LOG)).unwrap(), "2026-01-01T00:00:02.000000000Z two\n2026-01-01T00:00:03.000000000Z three\n");
        let since = Options { since: Some("2026-01-01T00:00:02Z".parse().unwrap()), ..Options::default() };
        assert_eq!(Renderer::new(since).render_all(LOG), b"two\nthree\n");
        let limited = Options { limit_bytes: Some(6), ..Options::default() };
        assert_eq!(Renderer::new(limited).render_all(LOG), b"one\ntw");
    }

    #[test]
    fn a_last_line_without_a_newline_is_not_lost() {
        let unfinished = "2026-01-01T00:00:01.000000001Z stdout F one\n2026-01-01T00:00:02.000000000Z stdout P demo\n";
        assert_eq!(Renderer::new(Options::default()).render_all(unfinished), b"one\ndemo");
        // Followed, the rest of the line comes later and completes it.
        let mut followed = Renderer::new(Options::default());
        assert_eq!(followed.render_all(unfinished), b"one\ndemo");
        assert_eq!(followed.render_more("2026-01-01T00:00:03.000000000Z stdout F !\n"), b"!\n");
    }
}
