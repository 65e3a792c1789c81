//! The load loop: N workers, each a closed loop (send, wait for the answer, send the next), until
//! a deadline or a total count. Each worker keeps its own histogram and error tally, merged at
//! the end, so recording never contends on a shared lock.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// One failed iteration: `kind` groups failures in the report (HTTP status and ePay code, or
/// the transport problem); `detail` is the first example kept for each kind.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: String,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Failure {
        Failure { kind: kind.into(), detail: detail.into() }
    }
}

/// A unit of load: one flow of requests, one no-op request, one database commit.
pub trait Job: Send + 'static {
    fn once(&mut self) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// When a run ends: at the deadline, after `count` iterations in total, or whichever is first.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub duration: Option<Duration>,
    pub count: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct ErrorTally {
    pub count: u64,
    pub example: String,
}

pub struct Outcome {
    /// Latency of each successful iteration, in microseconds.
    pub latency_us: Histogram<u64>,
    pub completed: u64,
    pub errors: BTreeMap<String, ErrorTally>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn per_sec(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }
}

/// 1 µs to 10 minutes at 3 significant digits: a 0.1% error on any latency we can see.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Runs every job in its own task until `limit`; gives the jobs back (they hold connections and
/// setup state worth reusing) with the merged outcome.
pub async fn run<J: Job>(jobs: Vec<J>, limit: Limit) -> (Vec<J>, Outcome) {
    assert!(limit.duration.is_some() || limit.count.is_some(), "a run needs a duration or a count");
    let started = Instant::now();
    let deadline = limit.duration.map(|d| started + d);
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = histogram();
            let mut completed = 0u64;
            let mut errors: BTreeMap<String, ErrorTally> = BTreeMap::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                // A ticket per iteration keeps the total at `count` however the workers race.
                if limit.count.is_some_and(|n| issued.fetch_add(1, Ordering::Relaxed) >= n) {
                    break;
                }
                let t0 = Instant::now();
                match job.once().await {
                    Ok(()) => {
                        let us = t0.elapsed().as_micros().clamp(1, 600_000_000) as u64;
                        latency.saturating_record(us);
                        completed += 1;
                    }
                    Err(f) => {
                        let e = errors.entry(f.kind).or_insert_with(|| ErrorTally { count: 0, example: f.detail });
                        e.count += 1;
                    }
                }
            }
            (job, latency, completed, errors)
        }));
    }
    let mut jobs = Vec::with_capacity(tasks.len());
    let mut outcome =
        Outcome { latency_us: histogram(), completed: 0, errors: BTreeMap::new(), elapsed: Duration::ZERO };
    for task in tasks {
        let (job, latency, completed, errors) = task.await.expect("a load worker panicked");
        outcome.latency_us.add(&latency).expect("histograms with the same bounds");
        outcome.completed += completed;
        for (kind, tally) in errors {
            let e = outcome.errors.entry(kind).or_insert_with(|| ErrorTally { count: 0, example: tally.example });
            e.count += tally.count;
        }
        jobs.push(job);
    }
    outcome.elapsed = started.elapsed();
    (jobs, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Every3rdFails(u64);

    impl Job for Every3rdFails {
        async fn once(&mut self) -> Result<(), Failure> {
            self.0 += 1;
            if self.0.is_multiple_of(3) {
                return Err(Failure::new("third", format!("iteration {}", self.0)));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn counts_successes_and_errors_up_to_the_limit() {
        let jobs = (0..4).map(|_| Every3rdFails(0)).collect();
        let (jobs, outcome) = run(jobs, Limit { duration: None, count: Some(30) }).await;
        assert_eq!(jobs.len(), 4);
        assert_eq!(outcome.completed + outcome.error_count(), 30);
        assert_eq!(outcome.latency_us.len(), outcome.completed);
        assert!(outcome.errors["third"].count >= 4);
        assert!(outcome.errors["third"].example.starts_with("iteration "));
    }

    #[tokio::test]
    async fn stops_at_the_deadline() {
        let (_, outcome) =
            run(vec![Every3rdFails(0)], Limit { duration: Some(Duration::from_millis(20)), count: None }).await;
        assert!(outcome.elapsed >= Duration::from_millis(20));
        assert!(outcome.completed > 0);
    }
}
