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
pub(super) enum View<'v, 'a> {
    Tree(&'v Tree<'a>),
    Node(&'v Node),
}

/// What a [`View`] holds.
pub(super) enum Shape<'v, 'a> {
    Null,
    /// A string, a number or a boolean (the text when it is a string).
    Scalar(Option<&'v str>),
    Seq(ItemViews<'v, 'a>),
    Map(FieldViews<'v, 'a>),
}

/// The items of a viewed list.
pub(super) enum ItemViews<'v, 'a> {
    Trees(slice::Iter<'v, Tree<'a>>),
    Nodes(slice::Iter<'v, Node>),
}

/// The fields of a viewed mapping: key and value.
pub(super) enum FieldViews<'v, 'a> {
    Trees(slice::Iter<'v, Field<'a>>),
    Entries(slice::Iter<'v, Entry>),
}

impl<'v, 'a> View<'v, 'a> {
    #[inline]
    pub(super) fn shape(self) -> Shape<'v, 'a> {
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
    pub(super) fn as_str(self) -> Option<&'v str> {
        match self.shape() {
            Shape::Scalar(text) => text,
            _ => None,
        }
    }

    /// The value at a path of field names (the first field of each name).
    pub(super) fn at(self, path: &[&str]) -> Option<View<'v, 'a>> {
        path.iter().try_fold(self, |v, key| v.field(key).map(|(_, v)| v))
    }

    /// The first field called `key` of a mapping: its position and value.
    #[inline]
    pub(super) fn field(self, key: &str) -> Option<(usize, View<'v, 'a>)> {
        match self.shape() {
            Shape::Map(fields) => {
                fields.enumerate().find(|(_, (k, _))| *k == key).map(|(i, (_, v))| (i, v))
            }
            _ => None,
        }
    }
}

impl<'v, 'a> Iterator for ItemViews<'v, 'a> {
    type Item = View<'v, 'a>;

    #[inline]
    fn next(&mut self) -> Option<View<'v, 'a>> {
        match self {
            ItemViews::Trees(items) => items.next().map(View::Tree),
            ItemViews::Nodes(items) => items.next().map(View::Node),
        }
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<View<'v, 'a>> {
        match self {
            ItemViews::Trees(items) => items.nth(n).map(View::Tree),
            ItemViews::Nodes(items) => items.nth(n).map(View::Node),
        }
    }
}

impl<'v, 'a> Iterator for FieldViews<'v, 'a> {
    type Item = (&'v str, View<'v, 'a>);

    #[inline]
    fn next(&mut self) -> Option<(&'v str, View<'v, 'a>)> {
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
    fn nth(&mut self, n: usize) -> Option<(&'v str, View<'v, 'a>)> {
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
pub(super) fn child_at<'t, 'a>(
    mut t: &'t mut Tree<'a>,
    path: &[usize],
) -> Option<&'t mut Tree<'a>> {
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
pub(super) fn view_at<'t, 'a>(t: &'t Tree<'a>, path: &[usize]) -> Option<View<'t, 'a>> {
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
