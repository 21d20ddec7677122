//! What one read has looked up, each thing once. The pods' lookups start page by page, so two
//! pages' pods often need the same ServiceAccount list, role or repository: the first to ask
//! fetches it and records what it found; the others wait for its value.

use super::read::Found;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::OnceCell;

/// A poisoned lock still guards good data: a panic elsewhere must not stop the read.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) struct Memo<K, V> {
    cells: Mutex<BTreeMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            cells: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<K: Ord + Clone, V: Clone> Memo<K, V> {
    /// The value of `key`: the first to ask runs `fetch` and records what it found in `into`
    /// (once, whoever asks later); everyone gets the value. `fetch` is not run otherwise.
    pub async fn once(
        &self,
        into: &Mutex<Found>,
        key: K,
        fetch: impl Future<Output = (V, Found)>,
    ) -> V {
        let cell = lock(&self.cells).entry(key).or_default().clone();
        cell.get_or_init(|| async {
            let (value, found) = fetch.await;
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

impl<K: Ord + Clone> Memo<K, ()> {
    /// Of `keys`, those nobody claimed before, now claimed by the caller: for lookups made many
    /// keys to a call (EC2's `DescribeInstances`), where each caller asks for its new keys.
    pub fn claim(&self, keys: impl IntoIterator<Item = K>) -> Vec<K> {
        let mut cells = lock(&self.cells);
        keys.into_iter()
            .filter(|key| {
                !cells.contains_key(key) && {
                    cells.insert(key.clone(), Arc::new(OnceCell::new_with(Some(()))));
                    true
                }
            })
            .collect()
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

    #[test]
    fn a_key_is_claimed_once() {
        let memo: Memo<&str, ()> = Memo::default();
        assert_eq!(memo.claim(["i-1", "i-2"]), ["i-1", "i-2"]);
        assert_eq!(memo.claim(["i-2", "i-3", "i-3"]), ["i-3"]);
    }
}
