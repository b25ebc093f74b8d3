//! In-process read caches for the embedded (SQLite, single-node) mode: group memberships
//! and rendered timeline pages. Every write that changes what they hold bumps the group's
//! generation after its transaction commits; a reader stores what it loaded only if the
//! generation it saw before loading is still current, so a page computed from pre-write
//! data is never kept.
//!
//! Owns: the caches and their invalidation rules. Must never: be enabled on PostgreSQL
//! (several nodes write there, and no node sees the others' invalidations), or serve a
//! membership or page older than the last committed write of this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

use crate::groups::Role;

const MAX_GROUPS: usize = 50_000;
const MAX_PAGES_PER_GROUP: usize = 64;

#[derive(Default)]
struct GroupEntry {
    generation: u64,
    members: Option<Arc<HashMap<String, Role>>>,
    pages: HashMap<String, Bytes>,
}

/// What a committed write changed.
#[derive(Debug, Clone, Copy)]
pub enum Touch<'a> {
    /// Nothing cached.
    Nothing,
    /// A group's items or marks.
    Items(&'a str),
    /// A group's membership (and so everything about it).
    Members(&'a str),
}

/// The caches (inert when disabled).
#[derive(Default)]
pub struct Caches {
    enabled: bool,
    groups: Mutex<HashMap<String, GroupEntry>>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl Caches {
    /// Caches that work only when `enabled` (the single-node SQLite mode).
    pub fn new(enabled: bool) -> Caches {
        Caches {
            enabled,
            groups: Mutex::default(),
        }
    }

    /// Whether caching is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The group's current generation (read it before loading from the store).
    pub fn generation(&self, group: &str) -> u64 {
        if !self.enabled {
            return 0;
        }
        self.groups
            .lock()
            .map(|g| g.get(group).map_or(0, |e| e.generation))
            .unwrap_or(0)
    }

    /// Cached members of `group`.
    pub fn members(&self, group: &str) -> Option<Arc<HashMap<String, Role>>> {
        if !self.enabled {
            return None;
        }
        self.groups.lock().ok()?.get(group)?.members.clone()
    }

    /// Stores members loaded while the generation was `seen`.
    pub fn put_members(&self, group: &str, seen: u64, members: Arc<HashMap<String, Role>>) {
        if !self.enabled {
            return;
        }
        if let Ok(mut g) = self.groups.lock() {
            if g.len() >= MAX_GROUPS && !g.contains_key(group) {
                g.clear();
            }
            let e = g.entry(group.to_owned()).or_default();
            if e.generation == seen {
                e.members = Some(members);
            }
        }
    }

    /// A cached rendered page.
    pub fn page(&self, group: &str, key: &str) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        self.groups.lock().ok()?.get(group)?.pages.get(key).cloned()
    }

    /// Stores a page rendered from data read while the generation was `seen`.
    pub fn put_page(&self, group: &str, seen: u64, key: String, page: Bytes) {
        if !self.enabled {
            return;
        }
        if let Ok(mut g) = self.groups.lock() {
            if g.len() >= MAX_GROUPS && !g.contains_key(group) {
                g.clear();
            }
            let e = g.entry(group.to_owned()).or_default();
            if e.generation == seen {
                if e.pages.len() >= MAX_PAGES_PER_GROUP {
                    e.pages.clear();
                }
                e.pages.insert(key, page);
            }
        }
    }

    /// Applies a committed write.
    pub fn touch(&self, t: Touch<'_>) {
        match t {
            Touch::Nothing => {}
            Touch::Items(g) => self.touch_items(g),
            Touch::Members(g) => self.touch_members(g),
        }
    }

    /// The group's items or marks changed (call after the commit).
    pub fn touch_items(&self, group: &str) {
        if !self.enabled {
            return;
        }
        if let Ok(mut g) = self.groups.lock() {
            let e = g.entry(group.to_owned()).or_default();
            e.generation += 1;
            e.pages.clear();
        }
    }

    /// The group's membership changed (call after the commit).
    pub fn touch_members(&self, group: &str) {
        if !self.enabled {
            return;
        }
        if let Ok(mut g) = self.groups.lock() {
            let e = g.entry(group.to_owned()).or_default();
            e.generation += 1;
            e.members = None;
            e.pages.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_loaded_before_a_write_is_not_kept() {
        let c = Caches::new(true);
        let seen = c.generation("g");
        c.touch_items("g"); // a write commits while the reader was loading
        c.put_page("g", seen, "k".into(), Bytes::from_static(b"old"));
        assert!(c.page("g", "k").is_none());
        let seen = c.generation("g");
        c.put_page("g", seen, "k".into(), Bytes::from_static(b"new"));
        assert_eq!(c.page("g", "k").unwrap(), "new");
        c.touch_members("g");
        assert!(c.page("g", "k").is_none());
    }

    #[test]
    fn disabled_caches_hold_nothing() {
        let c = Caches::new(false);
        c.put_page("g", 0, "k".into(), Bytes::from_static(b"x"));
        assert!(c.page("g", "k").is_none());
        assert!(c.members("g").is_none());
    }
}
