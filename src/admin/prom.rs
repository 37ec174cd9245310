//! Prometheus text exposition (format 0.0.4), written from typed values.

use std::fmt::Write as _;

use iamwire_proxy::metrics::{HistogramSnapshot, LATENCY_BUCKETS};

/// The kind of a metric family.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Builds one exposition document.
#[derive(Debug, Default)]
pub(crate) struct Prom {
    out: String,
}

impl Prom {
    /// Start a family: its `# HELP` and `# TYPE` lines.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", help.replace('\n', " "));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// A histogram's buckets, sum and count.
    pub(crate) fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        for (bound, count) in LATENCY_BUCKETS.iter().zip(h.cumulative.iter()) {
            let _ = write!(self.out, "{name}_bucket");
            write_labels(&mut self.out, labels, Some(&number(*bound)));
            let _ = writeln!(self.out, " {count}");
        }
        let _ = write!(self.out, "{name}_bucket");
        write_labels(&mut self.out, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {}", h.count);
        self.sample(&format!("{name}_sum"), labels, h.sum_seconds);
        #[allow(clippy::cast_precision_loss)]
        self.sample(&format!("{name}_count"), labels, h.count as f64);
    }

    /// The document.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
    for (name, value) in all {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_labels() {
        let mut p = Prom::default();
        p.family("iamwire_x_total", Kind::Counter, "things");
        p.sample("iamwire_x_total", &[("database", "a\"b\\c")], 3.0);
        p.sample("iamwire_y", &[], 0.25);
        let text = p.finish();
        assert!(text.contains("# TYPE iamwire_x_total counter\n"), "{text}");
        assert!(
            text.contains("iamwire_x_total{database=\"a\\\"b\\\\c\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("iamwire_y 0.25\n"), "{text}");
    }
}
