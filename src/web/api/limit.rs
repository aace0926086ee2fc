//! The API's per-token rate limit: a token bucket per token, in this
//! process's memory (a check on every API call must not cost a database
//! write; with several `serve` processes each allows the rate).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct ApiLimit {
    per_minute: u32,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ApiLimit {
    /// `per_minute` requests a minute per token, in bursts of as many; 0
    /// turns the limit off.
    pub fn new(per_minute: u32) -> ApiLimit {
        ApiLimit {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a request for `token_id`: None when allowed, else the seconds
    /// until the next one is.
    pub fn take(&self, token_id: i64, now: Instant) -> Option<u64> {
        if self.per_minute == 0 {
            return None;
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets carry nothing worth keeping.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity
            });
        }
        let b = buckets.entry(token_id).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_second).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(((1.0 - b.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let l = ApiLimit::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert_eq!(l.take(1, t0), None);
        }
        assert_eq!(l.take(1, t0), Some(1));
        // Another token has its own bucket.
        assert_eq!(l.take(2, t0), None);
        assert_eq!(l.take(1, t0 + Duration::from_millis(1000)), None);
        assert_eq!(l.take(1, t0 + Duration::from_millis(1000)), Some(1));
    }

    #[test]
    fn zero_is_off() {
        let l = ApiLimit::new(0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| l.take(1, t0).is_none()));
    }
}
