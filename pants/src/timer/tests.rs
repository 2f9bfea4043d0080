use super::*;

#[test]
fn cancel_removes_exactly_that_timer() {
    let now = Instant::now();
    let mut q = TimerQueue::new();
    let a = q.insert(Kind::After(Duration::from_secs(1)), 'a', now);
    let b = q.insert(Kind::After(Duration::from_secs(1)), 'b', now);
    assert!(q.cancel(b));
    let due = q.pop_expired(now + Duration::from_secs(2)).unwrap();
    assert_eq!(due, a);
    assert_eq!(q.pop_expired(now + Duration::from_secs(2)), None);
}
