//! The session's record of what happened, bounded: at most `max_events` events and
//! `MAX_OUTPUT` bytes of guest output are kept, so a guest that loops calling the host (or
//! printing) cannot grow the harness's memory with the budget it is given.
//!
//! The first events are the ones kept (loads, relocations, the first bindings: what a report
//! needs); past the limit, events are counted, and one `LogTruncated` event, last in the log,
//! says how many were dropped.

use crate::events::Event;

/// Guest output kept per session (stdout and stderr together); the rest is counted.
pub const MAX_OUTPUT: usize = 16 << 20;

/// Events kept by default: about 50 MiB at the ~250 bytes an event takes.
pub const DEFAULT_MAX_EVENTS: usize = 200_000;

#[derive(Debug)]
pub struct EventLog {
    events: Vec<Event>,
    /// For each event, how many bytes of output the guest had written when it happened.
    output_marks: Vec<usize>,
    max_events: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Both streams, interleaved as written.
    output: Vec<u8>,
    output_dropped: u64,
}

impl EventLog {
    pub fn new(max_events: usize) -> EventLog {
        EventLog {
            events: Vec::new(),
            output_marks: Vec::new(),
            max_events: max_events.max(1),
            stdout: Vec::new(),
            stderr: Vec::new(),
            output: Vec::new(),
            output_dropped: 0,
        }
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Events that did not fit, counted since the log filled.
    pub fn dropped_events(&self) -> u64 {
        match self.events.last() {
            Some(Event::LogTruncated { dropped, .. }) => *dropped,
            _ => 0,
        }
    }

    /// Bytes of guest output beyond [`MAX_OUTPUT`] that were not kept.
    pub fn dropped_output(&self) -> u64 {
        self.output_dropped
    }

    pub fn record(&mut self, event: Event) {
        if let Some(Event::LogTruncated { dropped, .. }) = self.events.last_mut() {
            *dropped += 1;
            return;
        }
        // The last slot goes to the truncation notice.
        let event = if self.events.len() + 1 >= self.max_events {
            Event::LogTruncated {
                limit: self.max_events as u64,
                dropped: 1,
            }
        } else {
            event
        };
        self.output_marks.push(self.output.len());
        self.events.push(event);
    }

    pub fn write_stream(&mut self, stderr: bool, bytes: &[u8]) {
        let room = MAX_OUTPUT.saturating_sub(self.output.len());
        let kept = &bytes[..bytes.len().min(room)];
        self.output_dropped += (bytes.len() - kept.len()) as u64;
        if stderr {
            self.stderr.extend_from_slice(kept);
        } else {
            self.stdout.extend_from_slice(kept);
        }
        self.output.extend_from_slice(kept);
    }

    /// How many complete lines of output the guest had written when event `index` happened.
    pub fn output_lines_before(&self, index: usize) -> Option<usize> {
        let mark = *self.output_marks.get(index)?;
        Some(self.output[..mark].iter().filter(|&&b| b == b'\n').count())
    }

    pub fn output(&self) -> &[u8] {
        &self.output
    }
    pub fn stdout(&self) -> &[u8] {
        &self.stdout
    }
    pub fn stderr(&self) -> &[u8] {
        &self.stderr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(n: u64) -> Event {
        Event::HostCall {
            function: "strlen".into(),
            from: n,
        }
    }

    #[test]
    fn keeps_the_first_events_and_counts_the_rest() {
        let mut log = EventLog::new(4);
        for n in 0..10 {
            log.record(call(n));
        }
        assert_eq!(log.events().len(), 4);
        assert_eq!(log.events()[2], call(2));
        assert_eq!(
            log.events()[3],
            Event::LogTruncated {
                limit: 4,
                dropped: 7
            }
        );
        assert_eq!(log.dropped_events(), 7);
    }

    #[test]
    fn output_stops_at_its_bound() {
        let mut log = EventLog::new(10);
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..20 {
            log.write_stream(false, &chunk);
        }
        assert_eq!(log.output().len(), MAX_OUTPUT);
        assert_eq!(log.stdout().len(), MAX_OUTPUT);
        assert_eq!(log.dropped_output(), 4 << 20);
    }
}
