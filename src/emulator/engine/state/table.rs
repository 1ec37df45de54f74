//! [`Table`]: the ordered, copy-on-write collection every kind of record is kept in.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Records that live in a [`Table`] (cloned only when changed while a snapshot shares
/// them).
pub trait Record: Clone {
    /// The record's SID.
    fn sid(&self) -> &str;
}

/// An ordered collection addressed by SID: creation order for listing, a SID index for
/// lookups, and a sequence number per SID that outlives deletion so a page token naming
/// a deleted item still marks a position. Records sit in a vector slot per position (a
/// removed one leaves an empty slot of one pointer), so a lookup is one hash and one
/// index, whatever the size.
///
/// Each record is behind an `Arc`, copied on write: cloning a table (a state snapshot,
/// taken while the engine is held) copies pointers, not records, and a record changed
/// while a snapshot still holds it is copied then, once. Without a snapshot alive every
/// record has one owner and writes go straight to it.
#[derive(Debug, Clone)]
pub struct Table<T> {
    items: Vec<Option<Arc<T>>>,
    /// The position of each live record, found by the hash of its SID and checked
    /// against the record's own [`Record::sid`]: the index keeps no copy of the SIDs.
    // Every key is a SID the emulator generated itself, so SipHash's defence against
    // keys chosen to collide buys nothing; rustc-hash is much cheaper per lookup.
    // Positions are kept as `u32` here (half the bytes of a bucket's value): a table
    // would run out of memory long before it held 2^32 records.
    index: HashTable<u32>,
    /// Positions of removed records (live ones are in `index`).
    removed: FxHashMap<String, u64>,
    live: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: Vec::new(),
            index: HashTable::new(),
            removed: FxHashMap::default(),
            live: 0,
        }
    }
}

fn hash(sid: &str) -> u64 {
    FxBuildHasher.hash_one(sid)
}

impl<T: Record> Table<T> {
    /// The SID of the live record at `position` ("" for an empty slot, which the index
    /// never points at).
    fn sid_at(items: &[Option<Arc<T>>], position: u32) -> &str {
        usize::try_from(position)
            .ok()
            .and_then(|at| items.get(at))
            .and_then(|slot| slot.as_deref())
            .map_or("", |item| item.sid())
    }
    /// The position of the live record with this SID.
    fn find(&self, sid: &str) -> Option<u64> {
        let items = &self.items;
        self.index
            .find(hash(sid), |at| Self::sid_at(items, *at) == sid)
            .map(|at| u64::from(*at))
    }
    /// Take this SID out of the index, with its position.
    fn unindex(&mut self, sid: &str) -> Option<u64> {
        let items = &self.items;
        let entry = self
            .index
            .find_entry(hash(sid), |at| Self::sid_at(items, *at) == sid)
            .ok()?;
        Some(u64::from(entry.remove().0))
    }
    /// Index the live record at `position`.
    fn index_at(&mut self, position: u64) {
        // Past u32::MAX records (more than memory holds) the index saturates rather
        // than wrap; such records could not be found by SID.
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        let items = &self.items;
        let sid_hash = hash(Self::sid_at(items, position));
        self.index
            .insert_unique(sid_hash, position, |at| hash(Self::sid_at(items, *at)));
    }

    /// Add a record at the end.
    pub fn insert(&mut self, item: T) {
        if let Some(old) = self.unindex(item.sid()) {
            // The same SID again replaces the record, at the end.
            self.take(old);
        }
        let position = self.items.len() as u64;
        self.removed.remove(item.sid());
        self.items.push(Some(Arc::new(item)));
        self.live += 1;
        self.index_at(position);
    }
    fn take(&mut self, position: u64) -> Option<T> {
        let slot = self.items.get_mut(usize::try_from(position).ok()?)?;
        let item = slot.take()?;
        self.live -= 1;
        Some(Arc::try_unwrap(item).unwrap_or_else(|shared| T::clone(&shared)))
    }
    fn slot(&self, position: u64) -> Option<&T> {
        self.items
            .get(usize::try_from(position).ok()?)
            .and_then(|slot| slot.as_deref())
    }
    /// The record at a creation position (none for a removed one).
    pub fn at(&self, position: u64) -> Option<&T> {
        self.slot(position)
    }
    /// The record with this SID.
    pub fn get(&self, sid: &str) -> Option<&T> {
        self.slot(self.find(sid)?)
    }
    /// The record with this SID, mutably.
    pub fn get_mut(&mut self, sid: &str) -> Option<&mut T> {
        let position = usize::try_from(self.find(sid)?).ok()?;
        self.items.get_mut(position)?.as_mut().map(Arc::make_mut)
    }
    /// Remove and return the record with this SID.
    pub fn remove(&mut self, sid: &str) -> Option<T> {
        let position = self.unindex(sid)?;
        self.removed.insert(sid.to_string(), position);
        self.take(position)
    }
    /// Records in creation order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + Clone {
        self.items.iter().filter_map(|slot| slot.as_deref())
    }
    /// Records in creation order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.items
            .iter_mut()
            .filter_map(|slot| slot.as_mut().map(Arc::make_mut))
    }
    /// Records created after the one named `sid` (a page token's position).
    pub fn position(&self, sid: &str) -> Option<u64> {
        self.find(sid).or_else(|| self.removed.get(sid).copied())
    }
    /// Records from position `after` (exclusive) on.
    pub fn after(&self, after: Option<u64>) -> impl Iterator<Item = &T> {
        let start = after.map_or(0, |position| position.saturating_add(1));
        let start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.items.len());
        self.items[start..]
            .iter()
            .filter_map(|slot| slot.as_deref())
    }
    /// The creation position of a record.
    pub fn position_of(&self, sid: &str) -> Option<u64> {
        self.find(sid)
    }
    /// How many records.
    pub fn len(&self) -> usize {
        self.live
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
    /// A copy made record by record with `copy` (same positions, same removed SIDs).
    pub fn copy_with(&self, mut copy: impl FnMut(&T) -> T) -> Table<T> {
        Table {
            items: self
                .items
                .iter()
                .map(|slot| slot.as_deref().map(|item| Arc::new(copy(item))))
                .collect(),
            index: self.index.clone(),
            removed: self.removed.clone(),
            live: self.live,
        }
    }
}

/// A table is saved as its slots (a removed record's slot as `null`, so positions and page
/// tokens survive a restart) and the positions of removed SIDs; the SID index is rebuilt.
impl<T: Serialize> Serialize for Table<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Items<'a, T>(&'a [Option<Arc<T>>]);
        impl<T: Serialize> Serialize for Items<'_, T> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(|slot| slot.as_deref()))
            }
        }
        #[derive(Serialize)]
        struct Saved<'a, T: Serialize> {
            items: Items<'a, T>,
            removed: Vec<(&'a str, u64)>,
        }
        let mut removed: Vec<(&str, u64)> = self
            .removed
            .iter()
            .map(|(sid, position)| (sid.as_str(), *position))
            .collect();
        removed.sort_unstable_by_key(|(_, position)| *position);
        Saved {
            items: Items(&self.items),
            removed,
        }
        .serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Record> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(bound = "T: Deserialize<'de>")]
        struct Saved<T> {
            items: Vec<Option<T>>,
            removed: Vec<(String, u64)>,
        }
        let saved = Saved::<T>::deserialize(deserializer)?;
        let mut table = Table {
            items: saved
                .items
                .into_iter()
                .map(|slot| slot.map(Arc::new))
                .collect(),
            ..Table::default()
        };
        for position in 0..table.items.len() {
            let Some(sid) = table.items[position].as_deref().map(|item| item.sid()) else {
                continue;
            };
            if table.find(sid).is_some() {
                return Err(D::Error::custom(format!("{sid} appears twice")));
            }
            table.index_at(position as u64);
            table.live += 1;
        }
        for (sid, position) in saved.removed {
            let empty = usize::try_from(position)
                .ok()
                .and_then(|at| table.items.get(at))
                .is_some_and(Option::is_none);
            if !empty || table.find(&sid).is_some() {
                return Err(D::Error::custom(format!(
                    "removed {sid} at position {position} is not an empty slot"
                )));
            }
            table.removed.insert(sid, position);
        }
        Ok(table)
    }
}
