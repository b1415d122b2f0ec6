//! The items of a rendered list or the fields of a rendered mapping: made by the build, or
//! still the loaded node's, shared with it until the build changes them.
//!
//! Most of an object a build renders is what its file says (an overlay sets a namespace, a
//! label, an image, and leaves the containers' probes, resources and environment alone). A
//! tree is made from a loaded node without copying it: its children stay the node's, borrowed
//! for `'a` (the loaded files outlive the build's trees), and are made into trees one level at
//! a time when the build reads them, and owned when it changes them. Children never changed are
//! given back to the rendered object as they were loaded, so that it shares them with the
//! loaded node (docs/RENDER.md, "Provenance").

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, OnceLock};

/// What a child is made from when the children were loaded: a loaded node (a list's item) or
/// entry (a mapping's field), every node of it from one file.
pub trait Thaw<'a>: Sized {
    type Source: 'a;
    /// The child of `source`, every node of it from `file` (its own children still shared).
    fn thaw(source: &'a Self::Source, file: u32) -> Self;
}

/// A list's items or a mapping's fields: read and changed as a `Vec` (made on first use when
/// they are still the loaded node's).
pub struct Children<'a, T: Thaw<'a>>(Inner<'a, T>);

enum Inner<'a, T: Thaw<'a>> {
    /// Made or changed by the build.
    Owned(Vec<T>),
    /// The loaded node's, unchanged (boxed: a node's value stays as small as a `Vec`).
    Loaded(Box<Loaded<'a, T>>),
}

struct Loaded<'a, T: Thaw<'a>> {
    /// Borrowed: the loaded nodes outlive the build's trees, and are not counted.
    source: &'a Arc<[T::Source]>,
    /// The file of every node below.
    file: u32,
    /// The children made from `source` when first read (and taken when first changed).
    made: OnceLock<Vec<T>>,
}

impl<'a, T: Thaw<'a>> Children<'a, T> {
    /// The children of a loaded node, every node below from `file`, shared with it.
    #[must_use]
    pub fn loaded(source: &'a Arc<[T::Source]>, file: u32) -> Self {
        Children(Inner::Loaded(Box::new(Loaded { source, file, made: OnceLock::new() })))
    }

    /// The loaded children these still are, and their file: none was changed since (reading
    /// them changes nothing).
    #[must_use]
    pub fn as_loaded(&self) -> Option<(&'a Arc<[T::Source]>, u32)> {
        match &self.0 {
            Inner::Loaded(l) => Some((l.source, l.file)),
            Inner::Owned(_) => None,
        }
    }

    /// The loaded children these still are when every node below is from `file`: what a node
    /// of that file can share as it is.
    #[must_use]
    pub fn loaded_from(&self, file: u32) -> Option<&'a Arc<[T::Source]>> {
        self.as_loaded().filter(|&(_, f)| f == file).map(|(source, _)| source)
    }

    /// The children, owned.
    #[must_use]
    pub fn into_vec(self) -> Vec<T> {
        match self.0 {
            Inner::Owned(items) => items,
            Inner::Loaded(l) => {
                let Loaded { source, file, made: kept } = *l;
                kept.into_inner().unwrap_or_else(|| made(source, file))
            }
        }
    }
}

fn made<'a, T: Thaw<'a>>(source: &'a [T::Source], file: u32) -> Vec<T> {
    source.iter().map(|s| T::thaw(s, file)).collect()
}

impl<'a, T: Thaw<'a>> Deref for Children<'a, T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        match &self.0 {
            Inner::Owned(items) => items,
            Inner::Loaded(l) => l.made.get_or_init(|| made(l.source, l.file)),
        }
    }
}

impl<'a, T: Thaw<'a>> DerefMut for Children<'a, T> {
    /// The children as the build's own: from here on they are no longer the loaded node's.
    fn deref_mut(&mut self) -> &mut Vec<T> {
        if let Inner::Loaded(l) = &mut self.0 {
            let items = l.made.take().unwrap_or_else(|| made(l.source, l.file));
            self.0 = Inner::Owned(items);
        }
        match &mut self.0 {
            Inner::Owned(items) => items,
            Inner::Loaded(_) => unreachable!("owned just above"),
        }
    }
}

impl<'a, T: Thaw<'a>> Default for Children<'a, T> {
    fn default() -> Self {
        Children(Inner::Owned(Vec::new()))
    }
}

impl<'a, T: Thaw<'a>> From<Vec<T>> for Children<'a, T> {
    fn from(items: Vec<T>) -> Self {
        Children(Inner::Owned(items))
    }
}

impl<'a, T: Thaw<'a>> FromIterator<T> for Children<'a, T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Children(Inner::Owned(iter.into_iter().collect()))
    }
}

impl<'a, T: Thaw<'a>> IntoIterator for Children<'a, T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'c, 'a, T: Thaw<'a>> IntoIterator for &'c Children<'a, T> {
    type Item = &'c T;
    type IntoIter = std::slice::Iter<'c, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'c, 'a, T: Thaw<'a>> IntoIterator for &'c mut Children<'a, T> {
    type Item = &'c mut T;
    type IntoIter = std::slice::IterMut<'c, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<'a, T: Thaw<'a> + Clone> Clone for Children<'a, T> {
    fn clone(&self) -> Self {
        match &self.0 {
            Inner::Owned(items) => Children(Inner::Owned(items.clone())),
            // Still shared: the clone is made from the loaded node when read, as this was.
            Inner::Loaded(l) => Children::loaded(l.source, l.file),
        }
    }
}

impl<'a, T: Thaw<'a> + PartialEq> PartialEq for Children<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        match (self.as_loaded(), other.as_loaded()) {
            (Some((a, f)), Some((b, g))) if Arc::ptr_eq(a, b) && f == g => true,
            _ => **self == **other,
        }
    }
}

impl<'a, T: Thaw<'a> + fmt::Debug> fmt::Debug for Children<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
