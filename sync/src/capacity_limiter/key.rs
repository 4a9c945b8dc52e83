//! Borrower keys: the type-erased identities a [`CapacityLimiter`] records
//! (who holds a token, who waits for one).
//!
//! A key is a corral task id, a thread id, a `run_sync` job, or any user
//! value that is `Hash + Eq + Send + Sync + 'static`. Task, thread and job
//! keys are stored inline (no allocation on the hot path); other values go
//! behind an `Arc<dyn DynKey>`. Every key has one *view* as a
//! `&dyn DynKey`, and hashing and equality go through that view only, so a
//! user key of type [`Id`] is the same borrower as the task with that id,
//! and a lookup by `&K` ([`CapacityLimiter::release_on_behalf_of`]) needs no
//! allocation.
//!
//! [`CapacityLimiter`]: super::CapacityLimiter
//! [`CapacityLimiter::release_on_behalf_of`]: super::CapacityLimiter::release_on_behalf_of

use corral_runtime::task::{self, Id};
use std::any::{Any, TypeId};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;

/// A borrower value, with its type: equality compares types first.
pub(crate) trait DynKey: Any + Send + Sync {
    fn dyn_eq(&self, other: &dyn DynKey) -> bool;
    fn dyn_hash(&self, state: &mut dyn Hasher);
    fn as_any(&self) -> &dyn Any;
    fn type_name(&self) -> &'static str;
}

impl<K: Hash + Eq + Send + Sync + 'static> DynKey for K {
    fn dyn_eq(&self, other: &dyn DynKey) -> bool {
        other.as_any().downcast_ref::<K>().is_some_and(|o| o == self)
    }
    fn dyn_hash(&self, mut state: &mut dyn Hasher) {
        TypeId::of::<K>().hash(&mut state);
        self.hash(&mut state);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<K>()
    }
}

impl Hash for dyn DynKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.dyn_hash(state);
    }
}

impl PartialEq for dyn DynKey {
    fn eq(&self, other: &dyn DynKey) -> bool {
        self.dyn_eq(other)
    }
}

impl Eq for dyn DynKey {}

/// The borrower behind [`CapacityLimiter::run_sync`](super::CapacityLimiter::run_sync):
/// one per call, so a task may run several jobs at once under one limiter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct JobId(u64);

/// A stored borrower key.
#[derive(Clone)]
pub(crate) enum Key {
    Task(Id),
    Thread(ThreadId),
    Job(JobId),
    Any(Arc<dyn DynKey>),
}

impl Key {
    /// The current borrower: the corral task being polled on this thread,
    /// or else the thread.
    pub(crate) fn current() -> Key {
        match task::try_id() {
            Some(id) => Key::Task(id),
            None => Key::Thread(std::thread::current().id()),
        }
    }

    /// A fresh `run_sync` job.
    pub(crate) fn job() -> Key {
        // A process-wide id counter that no protocol depends on: std's
        // atomic (a `static` cannot hold loom's), outside `crate::loom`.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Relaxed: only uniqueness matters, which the RMW gives alone.
        Key::Job(JobId(NEXT.fetch_add(1, Ordering::Relaxed)))
    }

    /// A user's key; task and thread ids are stored inline.
    pub(crate) fn from_value<K: Hash + Eq + Send + Sync + 'static>(k: K) -> Key {
        let any: &dyn Any = &k;
        if let Some(id) = any.downcast_ref::<Id>() {
            Key::Task(*id)
        } else if let Some(t) = any.downcast_ref::<ThreadId>() {
            Key::Thread(*t)
        } else {
            Key::Any(Arc::new(k))
        }
    }

    /// The one view hashing and equality use.
    pub(crate) fn as_dyn(&self) -> &dyn DynKey {
        match self {
            Key::Task(id) => id,
            Key::Thread(t) => t,
            Key::Job(j) => j,
            Key::Any(k) => &**k,
        }
    }
}

impl Borrow<dyn DynKey> for Key {
    fn borrow(&self) -> &(dyn DynKey + 'static) {
        self.as_dyn()
    }
}

/// Hashes exactly as the key's `dyn DynKey` view does (the type, then the
/// value: the `Borrow` contract), statically for the inline kinds.
impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Key::Task(id) => {
                TypeId::of::<Id>().hash(state);
                id.hash(state);
            }
            Key::Thread(t) => {
                TypeId::of::<ThreadId>().hash(state);
                t.hash(state);
            }
            Key::Job(j) => {
                TypeId::of::<JobId>().hash(state);
                j.hash(state);
            }
            Key::Any(k) => (**k).dyn_hash(state),
        }
    }
}

/// Equal exactly when the `dyn DynKey` views are. Kinds never cross: an
/// [`Id`] or a [`ThreadId`] given as a key is stored inline
/// ([`Key::from_value`]), and [`JobId`] is private.
impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::Task(a), Key::Task(b)) => a == b,
            (Key::Thread(a), Key::Thread(b)) => a == b,
            (Key::Job(a), Key::Job(b)) => a == b,
            (Key::Any(a), Key::Any(b)) => (**a).dyn_eq(&**b),
            _ => false,
        }
    }
}

impl Eq for Key {}

/// Describes a key for messages: `task 7`, `thread ThreadId(3)`,
/// `blocking job 2`, `"reporter"`, `42`, or `a key of type my::Key`.
pub(crate) fn describe(k: &dyn DynKey, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let any = k.as_any();
    if let Some(id) = any.downcast_ref::<Id>() {
        return write!(f, "task {id}");
    }
    if let Some(t) = any.downcast_ref::<ThreadId>() {
        return write!(f, "thread {t:?}");
    }
    if let Some(JobId(n)) = any.downcast_ref::<JobId>() {
        return write!(f, "blocking job {n}");
    }
    if let Some(s) = any.downcast_ref::<&'static str>() {
        return write!(f, "{s:?}");
    }
    if let Some(s) = any.downcast_ref::<String>() {
        return write!(f, "{s:?}");
    }
    macro_rules! ints {
        ($($t:ty),*) => {$(
            if let Some(n) = any.downcast_ref::<$t>() {
                return write!(f, "{n}");
            }
        )*};
    }
    ints!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, char);
    write!(f, "a key of type {}", k.type_name())
}

/// A description of a key that is not stored (a failed release by `&K`).
pub(crate) fn describe_to_string(k: &dyn DynKey) -> String {
    struct D<'a>(&'a dyn DynKey);
    impl fmt::Display for D<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            describe(self.0, f)
        }
    }
    D(k).to_string()
}

/// FxHash (rustc's multiply-rotate hash): keys are mostly task and thread
/// ids, hashed on every acquire and release, where SipHash would cost more
/// than the rest of the call. A limiter holds at most its borrowers and
/// waiters, and a collision only costs time.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SEED);
    }
    #[inline]
    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the limiter keeps per borrower.
pub(crate) type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<FxHasher>>;

/// A borrower of a [`CapacityLimiter`](super::CapacityLimiter): a corral
/// task, a thread, a [`run_sync`](super::CapacityLimiter::run_sync) job, or
/// any key given to the `*_on_behalf_of` methods. Listed by
/// [`CapacityLimiterStatistics::borrowers`](super::CapacityLimiterStatistics::borrowers)
/// and named by the errors.
///
/// ```
/// use corral::sync::CapacityLimiter;
/// let limiter = CapacityLimiter::new(2);
/// limiter.try_acquire_on_behalf_of("reporter").unwrap();
/// let borrowers = limiter.statistics().borrowers;
/// assert_eq!(borrowers[0].downcast_ref::<&str>(), Some(&"reporter"));
/// assert_eq!(borrowers[0].to_string(), "\"reporter\"");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Borrower(pub(crate) Key);

impl Borrower {
    /// The corral task, if the borrower is one.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// let limiter = Arc::new(corral::sync::CapacityLimiter::new(1));
    /// let l = limiter.clone();
    /// let task = corral::spawn(async move {
    ///     let _token = l.acquire().await.unwrap();
    ///     l.statistics().borrowers[0].task_id()
    /// });
    /// let id = task.id();
    /// assert_eq!(task.await.unwrap(), Some(id));
    /// # });
    /// ```
    pub fn task_id(&self) -> Option<Id> {
        match self.0 {
            Key::Task(id) => Some(id),
            _ => None,
        }
    }

    /// The thread, if the borrower is one (a `blocking_acquire` outside a
    /// task, or an `acquire` outside a task).
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// let _token = limiter.blocking_acquire().unwrap();
    /// let me = std::thread::current().id();
    /// assert_eq!(limiter.statistics().borrowers[0].thread_id(), Some(me));
    /// ```
    pub fn thread_id(&self) -> Option<ThreadId> {
        match self.0 {
            Key::Thread(t) => Some(t),
            _ => None,
        }
    }

    /// The key, if it is a `K` (task ids are [`Id`]s, threads
    /// [`ThreadId`]s).
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// limiter.try_acquire_on_behalf_of(7u32).unwrap();
    /// let b = &limiter.statistics().borrowers[0];
    /// assert_eq!(b.downcast_ref::<u32>(), Some(&7));
    /// assert_eq!(b.downcast_ref::<u64>(), None);
    /// ```
    pub fn downcast_ref<K: Any>(&self) -> Option<&K> {
        self.0.as_dyn().as_any().downcast_ref()
    }
}

impl fmt::Display for Borrower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(self.0.as_dyn(), f)
    }
}

impl fmt::Debug for Borrower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Borrower({self})")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash_of<Q: ?Sized + Hash>(q: &Q) -> u64 {
        BuildHasherDefault::<FxHasher>::default().hash_one(q)
    }

    /// The `Borrow<dyn DynKey>` contract: a key hashes and compares as its
    /// view, for every kind, so a lookup by a user's `&K` finds it.
    #[test]
    fn a_key_hashes_and_compares_as_its_dyn_view() {
        let keys = [
            Key::Thread(std::thread::current().id()),
            Key::job(),
            Key::from_value("name"),
            Key::from_value(String::from("name")),
            Key::from_value(7u64),
        ];
        for k in &keys {
            assert_eq!(hash_of(k), hash_of(k.as_dyn()));
            assert!(k.as_dyn() == k.as_dyn());
            assert!(*k == k.clone());
        }
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                assert_eq!(a == b, i == j);
                assert_eq!(a.as_dyn() == b.as_dyn(), i == j);
            }
        }
        // A thread id given as a key is stored inline, as the thread.
        let t = std::thread::current().id();
        assert!(matches!(Key::from_value(t), Key::Thread(u) if u == t));
        let mut map = KeyMap::default();
        map.insert(Key::from_value("name"), 1);
        map.insert(Key::Thread(t), 2);
        assert_eq!(map.get(&"name" as &dyn DynKey), Some(&1));
        assert_eq!(map.get(&t as &dyn DynKey), Some(&2));
        assert_eq!(map.get(&String::from("name") as &dyn DynKey), None);
    }
}
