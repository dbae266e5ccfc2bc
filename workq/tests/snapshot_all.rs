//! `workq::snapshots()`: every live queue of the process, told apart by id.

use workq::{Pool, QueueKind, WorkQueue, Worker};

#[test]
fn every_live_queue_is_listed_once_with_its_own_id() -> Result<(), workq::Error> {
    let pool = Pool::new("listed-twice")?;
    let twin = Pool::new("listed-twice")?;
    let worker = Worker::new("listed-worker")?;
    let wq = WorkQueue::builder("listed-wq").pool(&pool).build()?;
    let all = workq::snapshots();
    let ids = [
        pool.snapshot().id,
        twin.snapshot().id,
        worker.snapshot().id,
        wq.snapshot().id,
    ];
    for (id, kind) in ids.iter().zip([
        QueueKind::Pool,
        QueueKind::Pool,
        QueueKind::Worker,
        QueueKind::WorkQueue,
    ]) {
        let found: Vec<_> = all.iter().filter(|s| s.id == *id).collect();
        assert_eq!(found.len(), 1, "queue {id} listed once");
        assert_eq!(found[0].kind, kind);
    }
    assert_ne!(ids[0], ids[1], "same name, different queues");
    Ok(())
}
