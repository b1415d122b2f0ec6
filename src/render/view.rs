//! A render tree read without changing it: its own nodes, and the parts still shared with the
//! loaded node read as loaded.
//!
//! Reading a tree through [`Tree`]'s own accessors makes each loaded level it passes into trees
//! (`render::children`); a walk that only looks (where are the images, does a field spec reach
//! anything) reads through a [`View`] instead, so that what it passes stays as loaded, and only
//! what the build then changes is made its own.

use std::slice;

use super::tree::{Field, TValue, Tree};
use crate::load::yaml::Entry;
use crate::load::{Node, Value};

/// A node of a render tree, or of a loaded node it still shares.
#[derive(Clone, Copy, Debug)]
pub(super) enum View<'a> {
    Tree(&'a Tree),
    Node(&'a Node),
}

/// What a [`View`] holds.
pub(super) enum Shape<'a> {
    Null,
    /// A string, a number or a boolean (the text when it is a string).
    Scalar(Option<&'a str>),
    Seq(ItemViews<'a>),
    Map(FieldViews<'a>),
}

/// The items of a viewed list.
pub(super) enum ItemViews<'a> {
    Trees(slice::Iter<'a, Tree>),
    Nodes(slice::Iter<'a, Node>),
}

/// The fields of a viewed mapping: key and value.
pub(super) enum FieldViews<'a> {
    Trees(slice::Iter<'a, Field>),
    Entries(slice::Iter<'a, Entry>),
}

impl<'a> View<'a> {
    #[inline]
    pub(super) fn shape(self) -> Shape<'a> {
        match self {
            View::Tree(t) => match &t.value {
                TValue::Null => Shape::Null,
                TValue::Str(s) => Shape::Scalar(Some(s)),
                TValue::Bool(_) | TValue::Int(_) | TValue::Float(_) => Shape::Scalar(None),
                TValue::Seq(items) => Shape::Seq(match items.as_loaded() {
                    Some((nodes, _)) => ItemViews::Nodes(nodes.iter()),
                    None => ItemViews::Trees(items.iter()),
                }),
                TValue::Map(fields) => Shape::Map(match fields.as_loaded() {
                    Some((entries, _)) => FieldViews::Entries(entries.iter()),
                    None => FieldViews::Trees(fields.iter()),
                }),
            },
            View::Node(n) => match &n.value {
                Value::Null => Shape::Null,
                Value::Str(s) => Shape::Scalar(Some(s)),
                Value::Bool(_) | Value::Int(_) | Value::Float(_) => Shape::Scalar(None),
                Value::Seq(items) => Shape::Seq(ItemViews::Nodes(items.iter())),
                Value::Map(entries) => Shape::Map(FieldViews::Entries(entries.iter())),
            },
        }
    }

    /// The text of a string.
    #[inline]
    pub(super) fn as_str(self) -> Option<&'a str> {
        match self.shape() {
            Shape::Scalar(text) => text,
            _ => None,
        }
    }

    /// The value at a path of field names (the first field of each name).
    pub(super) fn at(self, path: &[&str]) -> Option<View<'a>> {
        path.iter().try_fold(self, |v, key| v.field(key).map(|(_, v)| v))
    }

    /// The first field called `key` of a mapping: its position and value.
    #[inline]
    pub(super) fn field(self, key: &str) -> Option<(usize, View<'a>)> {
        match self.shape() {
            Shape::Map(fields) => {
                fields.enumerate().find(|(_, (k, _))| *k == key).map(|(i, (_, v))| (i, v))
            }
            _ => None,
        }
    }
}

impl<'a> Iterator for ItemViews<'a> {
    type Item = View<'a>;

    #[inline]
    fn next(&mut self) -> Option<View<'a>> {
        match self {
            ItemViews::Trees(items) => items.next().map(View::Tree),
            ItemViews::Nodes(items) => items.next().map(View::Node),
        }
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<View<'a>> {
        match self {
            ItemViews::Trees(items) => items.nth(n).map(View::Tree),
            ItemViews::Nodes(items) => items.nth(n).map(View::Node),
        }
    }
}

impl<'a> Iterator for FieldViews<'a> {
    type Item = (&'a str, View<'a>);

    #[inline]
    fn next(&mut self) -> Option<(&'a str, View<'a>)> {
        match self {
            FieldViews::Trees(fields) => {
                fields.next().map(|f| (f.key.as_str(), View::Tree(&f.value)))
            }
            FieldViews::Entries(entries) => {
                entries.next().map(|e| (e.key.as_str(), View::Node(&e.value)))
            }
        }
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<(&'a str, View<'a>)> {
        match self {
            FieldViews::Trees(fields) => {
                fields.nth(n).map(|f| (f.key.as_str(), View::Tree(&f.value)))
            }
            FieldViews::Entries(entries) => {
                entries.nth(n).map(|e| (e.key.as_str(), View::Node(&e.value)))
            }
        }
    }
}

/// The node at a path of indexes (of list items and mapping fields), made the build's own
/// along the path.
pub(super) fn child_at<'t>(mut t: &'t mut Tree, path: &[usize]) -> Option<&'t mut Tree> {
    for &i in path {
        t = match &mut t.value {
            TValue::Map(fields) => &mut fields.get_mut(i)?.value,
            TValue::Seq(items) => items.get_mut(i)?,
            _ => return None,
        };
    }
    Some(t)
}

/// The node at a path of indexes, read.
pub(super) fn view_at<'t>(t: &'t Tree, path: &[usize]) -> Option<View<'t>> {
    let mut at = View::Tree(t);
    for &i in path {
        at = match at.shape() {
            Shape::Map(mut fields) => fields.nth(i)?.1,
            Shape::Seq(mut items) => items.nth(i)?,
            _ => return None,
        };
    }
    Some(at)
}
