//! What one read has looked up, each thing once. The pods' lookups start page by page, so two
//! pages' pods often need the same ServiceAccount list, role or repository: the first to ask
//! fetches it and records what it found; the others wait for its value.

use super::found::Found;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// A poisoned lock still guards good data: a panic elsewhere must not stop the read.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) struct Memo<K, V> {
    cells: Mutex<BTreeMap<K, Arc<OnceCell<V>>>>,
    /// Where lookups are kept across reads, and how old a kept one this read may use.
    kept: Option<(Arc<Kept<K, V>>, Duration)>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            cells: Mutex::new(BTreeMap::new()),
            kept: None,
        }
    }
}

impl<K: Ord + Clone, V: Clone> Memo<K, V> {
    /// A memo of one read that uses lookups of earlier reads kept in `kept` when younger than
    /// `reuse`, and keeps its own there.
    pub fn kept(kept: &Arc<Kept<K, V>>, reuse: Duration) -> Memo<K, V> {
        Memo {
            cells: Mutex::new(BTreeMap::new()),
            kept: Some((kept.clone(), reuse)),
        }
    }

    /// The value of `key`: the first to ask runs `fetch` and records what it found in `into`
    /// (once, whoever asks later); everyone gets the value. `fetch` is not run otherwise, nor
    /// when an earlier read's lookup of `key` is kept and young enough.
    pub async fn once(
        &self,
        into: &Mutex<Found>,
        key: K,
        fetch: impl Future<Output = (V, Found)>,
    ) -> V {
        let cell = lock(&self.cells).entry(key.clone()).or_default().clone();
        cell.get_or_init(|| async {
            let (value, found) = match &self.kept {
                Some((kept, reuse)) => match kept.fresh(&key, *reuse) {
                    Some(hit) => hit,
                    None => {
                        let (value, found) = fetch.await;
                        kept.keep(key, &value, &found);
                        (value, found)
                    }
                },
                None => fetch.await,
            };
            lock(into).merge(found);
            value
        })
        .await
        .clone()
    }

    /// Every value fetched so far.
    pub fn values(&self) -> Vec<V> {
        lock(&self.cells)
            .values()
            .filter_map(|cell| cell.get().cloned())
            .collect()
    }
}

/// Lookups kept across the reads of one session (the agent's, which reads all day): each
/// value with what its fetch found and when. Only what was found is kept — never a refusal or a
/// timeout (the next read asks again), never an absence (what a fix creates must be seen at
/// once): `worth` says which values are a presence.
pub(super) struct Kept<K, V> {
    entries: Mutex<BTreeMap<K, (Instant, V, Found)>>,
    worth: fn(&V, &Found) -> bool,
}

impl<K: Ord + Clone, V: Clone> Kept<K, V> {
    pub fn new(worth: fn(&V, &Found) -> bool) -> Kept<K, V> {
        Kept {
            entries: Mutex::new(BTreeMap::new()),
            worth,
        }
    }

    fn fresh(&self, key: &K, reuse: Duration) -> Option<(V, Found)> {
        let entries = lock(&self.entries);
        let (at, value, found) = entries.get(key)?;
        (at.elapsed() < reuse).then(|| (value.clone(), found.clone()))
    }

    fn keep(&self, key: K, value: &V, found: &Found) {
        let mut entries = lock(&self.entries);
        if found.gaps.problems.is_empty() && (self.worth)(value, found) {
            entries.insert(key, (Instant::now(), value.clone(), found.clone()));
        } else {
            entries.remove(&key);
        }
    }

    /// Forgets what is `age` old or older: what no read may use is not held.
    pub fn forget_older_than(&self, age: Duration) {
        lock(&self.entries).retain(|_, (at, _, _)| at.elapsed() < age);
    }

    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }
}

/// Lookups made many keys to a call (EC2's `DescribeInstances`): each caller's keys that nobody
/// asked for before go in one call, a batch; a key's answer is its batch's, which every caller
/// that needs the key waits for.
pub(super) struct Batches<K, V> {
    batch_of: Mutex<BTreeMap<K, Vec<K>>>,
    answers: Memo<Vec<K>, V>,
}

impl<K, V> Default for Batches<K, V> {
    fn default() -> Self {
        Batches {
            batch_of: Mutex::new(BTreeMap::new()),
            answers: Memo::default(),
        }
    }
}

impl<K: Ord + Clone, V: Clone> Batches<K, V> {
    /// The answers of the batches `keys` are in; `fetch` asks for one batch (run once each, by
    /// whoever asks first).
    pub async fn once<Fut>(
        &self,
        into: &Mutex<Found>,
        keys: impl IntoIterator<Item = K>,
        fetch: impl Fn(Vec<K>) -> Fut,
    ) -> Vec<V>
    where
        Fut: Future<Output = (V, Found)>,
    {
        let batches: std::collections::BTreeSet<Vec<K>> = {
            let mut batch_of = lock(&self.batch_of);
            let keys: std::collections::BTreeSet<K> = keys.into_iter().collect();
            let new: Vec<K> = keys
                .iter()
                .filter(|k| !batch_of.contains_key(*k))
                .cloned()
                .collect();
            for key in &new {
                batch_of.insert(key.clone(), new.clone());
            }
            keys.iter().map(|k| batch_of[k].clone()).collect()
        };
        let answers = batches
            .into_iter()
            .map(|batch| self.answers.once(into, batch.clone(), fetch(batch)));
        futures::future::join_all(answers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn the_first_asker_fetches_and_records_once_and_all_get_the_value() {
        let memo: Memo<&str, usize> = Memo::default();
        let found = Mutex::new(Found::default());
        let fetched = AtomicUsize::new(0);
        let fetch = |n: usize| {
            let fetched = &fetched;
            async move {
                fetched.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                let mut f = Found::default();
                f.gaps.problems.push(format!("fetch {n}"));
                (n, f)
            }
        };
        let (a, b, c) = tokio::join!(
            memo.once(&found, "role", fetch(1)),
            memo.once(&found, "role", fetch(2)),
            memo.once(&found, "other", fetch(3)),
        );
        assert_eq!((a, b, c), (1, 1, 3));
        assert_eq!(fetched.load(Ordering::SeqCst), 2);
        let mut recorded = lock(&found).gaps.problems.clone();
        recorded.sort();
        assert_eq!(recorded, ["fetch 1", "fetch 3"]);
        let mut values = memo.values();
        values.sort();
        assert_eq!(values, [1, 3]);
    }

    #[tokio::test]
    async fn a_kept_lookup_serves_later_reads_until_too_old_and_only_a_presence_is_kept() {
        let kept: Arc<Kept<&str, Option<usize>>> = Arc::new(Kept::new(|v, _| v.is_some()));
        let fetched = Mutex::new(Vec::new());
        let fetch = |key: &'static str, value: Option<usize>, problem: bool| {
            let fetched = &fetched;
            async move {
                lock(fetched).push(key);
                let mut found = Found::default();
                found.documents.push(serde_json::json!({ "read": key }));
                if problem {
                    found.gaps.problems.push("AccessDenied".into());
                }
                (value, found)
            }
        };
        let read = |reuse: Duration| Memo::kept(&kept, reuse);
        let hour = Duration::from_secs(3600);
        let first = (read(hour), Mutex::new(Found::default()));
        first
            .0
            .once(&first.1, "role", fetch("role", Some(1), false))
            .await;
        first
            .0
            .once(&first.1, "gone", fetch("gone", None, false))
            .await;
        first
            .0
            .once(&first.1, "denied", fetch("denied", Some(3), true))
            .await;
        assert_eq!(kept.len(), 1, "only the presence is kept");

        // A later read: the kept role with what its fetch recorded; the rest asked again.
        let second = (read(hour), Mutex::new(Found::default()));
        let role = second
            .0
            .once(&second.1, "role", fetch("role", Some(9), false));
        assert_eq!(role.await, Some(1));
        second
            .0
            .once(&second.1, "gone", fetch("gone", None, false))
            .await;
        second
            .0
            .once(&second.1, "denied", fetch("denied", Some(3), true))
            .await;
        assert_eq!(lock(&second.1).documents.len(), 3);
        assert_eq!(
            *lock(&fetched),
            ["role", "gone", "denied", "gone", "denied"]
        );

        // A read that may use nothing older than now asks again and keeps the new answer.
        let third = (read(Duration::ZERO), Mutex::new(Found::default()));
        let role = third
            .0
            .once(&third.1, "role", fetch("role", Some(2), false));
        assert_eq!(role.await, Some(2));
        let fourth = (read(hour), Mutex::new(Found::default()));
        let role = fourth
            .0
            .once(&fourth.1, "role", fetch("role", Some(7), false));
        assert_eq!(role.await, Some(2));
        kept.forget_older_than(Duration::ZERO);
        assert_eq!(kept.len(), 0);
    }

    #[tokio::test]
    async fn a_key_is_asked_for_in_one_batch_and_its_askers_wait_for_it() {
        let batches: Batches<&str, Vec<&str>> = Batches::default();
        let found = Mutex::new(Found::default());
        let calls = Mutex::new(Vec::new());
        let fetch = |keys: Vec<&'static str>| {
            let calls = &calls;
            async move {
                lock(calls).push(keys.clone());
                (keys, Found::default())
            }
        };
        let first = batches.once(&found, ["i-1", "i-2"], fetch).await;
        assert_eq!(first, [vec!["i-1", "i-2"]]);
        let second = batches.once(&found, ["i-2", "i-3", "i-3"], fetch).await;
        assert_eq!(second, [vec!["i-1", "i-2"], vec!["i-3"]]);
        assert_eq!(*lock(&calls), [vec!["i-1", "i-2"], vec!["i-3"]]);
    }
}
