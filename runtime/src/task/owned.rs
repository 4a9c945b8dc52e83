//! The list of every live task of a runtime, so shutdown can reach the
//! futures that no queue holds (idle tasks waiting on a wake that will
//! never come) and drop them.
//!
//! An intrusive doubly-linked list through `Header::owned`, split into
//! shards by task id so that spawns and completions on different workers
//! rarely meet on one lock. The list holds one reference to each task it
//! contains.
//!
//! Protocol:
//! - `bind` (at spawn) links the task under its shard lock unless the list
//!   is closed; a refused task is shut down by the caller.
//! - `remove` (at completion) unlinks it and reports whether it was linked,
//!   i.e. whether the caller must also release the list's reference.
//! - `close_and_shutdown_all` sets `closed` and then pops tasks one at a
//!   time, shutting each down with the lock released (cancelling a task can
//!   complete others, which take shard locks). A `bind` racing with the
//!   close either sees `closed` or is seen by the pops: both happen under
//!   the same shard lock.

use super::raw::Header;
use crate::loom::{AtomicBool, Mutex, Ordering};
use std::ptr::NonNull;

pub(crate) struct OwnedTasks {
    shards: Box<[Mutex<Shard>]>,
    mask: usize,
    closed: AtomicBool,
}

struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
}

// SAFETY: a shard is only a list of task pointers; tasks are Send (their
// futures are) and the links are only touched under this shard's lock.
unsafe impl Send for Shard {}

impl OwnedTasks {
    /// A list with about four shards per thread that spawns or completes
    /// tasks (one for a current-thread runtime, which never contends).
    pub(crate) fn new(threads: usize) -> Self {
        let n = if threads <= 1 {
            1
        } else {
            (threads * 4).next_power_of_two().min(256)
        };
        OwnedTasks {
            shards: (0..n).map(|_| Mutex::new(Shard { head: None, len: 0 })).collect(),
            mask: n - 1,
            closed: AtomicBool::new(false),
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        &self.shards[header.id.as_u64() as usize & self.mask]
    }

    /// Links a new task, taking the list's reference. Returns false if the
    /// runtime is shutting down: the task is not linked, and the caller
    /// must shut it down with that reference.
    pub(crate) fn bind(&self, task: NonNull<Header>) -> bool {
        // SAFETY: the caller holds references to the live task.
        let header = unsafe { task.as_ref() };
        let mut shard = self.shard(header).lock();
        // Relaxed: ordered by the shard lock (see the module doc).
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let old_head = shard.head;
        header.owned.with_mut(|links| {
            // SAFETY: links are only touched under the shard lock, held.
            let links = unsafe { &mut *links };
            debug_assert!(!links.linked);
            links.prev = None;
            links.next = old_head;
            links.linked = true;
        });
        if let Some(old) = old_head {
            // SAFETY: linked tasks are alive (the list holds a reference);
            // their links are ours under the lock.
            unsafe { old.as_ref() }
                .owned
                .with_mut(|links| unsafe { (*links).prev = Some(task) });
        }
        shard.head = Some(task);
        shard.len += 1;
        true
    }

    /// Unlinks a completing task. True if it was linked: the caller then
    /// releases the list's reference.
    pub(crate) fn remove(&self, task: NonNull<Header>) -> bool {
        // SAFETY: the caller (the completing poller) holds a reference.
        let header = unsafe { task.as_ref() };
        let mut shard = self.shard(header).lock();
        // SAFETY: under the shard lock.
        unsafe { unlink(&mut shard, task) }
    }

    /// Refuses new tasks and shuts down every task in the list.
    pub(crate) fn close_and_shutdown_all(&self) {
        self.closed.store(true, Ordering::Relaxed);
        for shard in self.shards.iter() {
            loop {
                let task = {
                    let mut shard = shard.lock();
                    match shard.head {
                        // SAFETY: under the shard lock; `head` is linked.
                        Some(head) => unsafe {
                            unlink(&mut shard, head);
                            head
                        },
                        None => break,
                    }
                };
                // SAFETY: we own the list's reference to the task, which
                // shutdown consumes.
                unsafe { (task.as_ref().vtable.shutdown)(task) };
            }
        }
    }

    /// Number of live tasks (a racy sum, for statistics).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len).sum()
    }
}

/// # Safety
/// Called under `shard`'s lock; `task` is alive.
unsafe fn unlink(shard: &mut Shard, task: NonNull<Header>) -> bool {
    // SAFETY: alive per the contract.
    let header = unsafe { task.as_ref() };
    let taken = header.owned.with_mut(|links| {
        // SAFETY: under the shard lock.
        let links = unsafe { &mut *links };
        if !links.linked {
            return None;
        }
        links.linked = false;
        Some((links.prev.take(), links.next.take()))
    });
    let Some((prev, next)) = taken else {
        return false;
    };
    match prev {
        // SAFETY: neighbours are linked, hence alive; under the lock.
        Some(p) => unsafe { p.as_ref() }
            .owned
            .with_mut(|l| unsafe { (*l).next = next }),
        None => shard.head = next,
    }
    if let Some(n) = next {
        // SAFETY: as above.
        unsafe { n.as_ref() }
            .owned
            .with_mut(|l| unsafe { (*l).prev = prev });
    }
    shard.len -= 1;
    true
}
