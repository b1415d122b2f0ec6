//! Sprig's list and dict functions, `default`/`empty`/`coalesce`/`ternary`/`all`/`any`, and the
//! reflection helpers (`kindOf`, `typeOf`, `deepEqual`, …).

use std::collections::BTreeMap;

use super::{arity, at_least, empty, int, strval, text, wrong, Result};
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::value::Value;

/// The items of a list argument, or sprig's error naming what was given instead.
fn items<'a>(v: &'a Value, what: &str) -> Result<&'a [Value]> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(format!("Cannot {what} on type {}", kind_of(other))),
    }
}

fn map_arg(v: &Value) -> Result<&std::rc::Rc<std::cell::RefCell<BTreeMap<String, Value>>>> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(wrong("map[string]interface {}", other)),
    }
}

/// A list function and its `must` twin (both return errors here; Go's non-`must` form panics,
/// which the template engine reports the same way).
fn both(
    f: &mut Funcs,
    name: &'static str,
    must: &'static str,
    func: crate::render::gotemplate::exec::Func,
) {
    f.insert(name, func);
    f.insert(must, func);
}

pub(super) fn register(f: &mut Funcs) {
    register_lists(f);
    register_more_lists(f);
    register_dicts(f);
    register_defaults(f);
}

/// List functions: making, adding, taking apart.
fn register_lists(f: &mut Funcs) {
    f.insert("list", |_, a| Ok(Value::list(a.to_vec())));
    f.insert("tuple", |_, a| Ok(Value::list(a.to_vec())));
    f.insert("dict", |_, a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            let value = pair.get(1).cloned().unwrap_or_else(|| Value::string(""));
            m.insert(strval(&pair[0]), value);
        }
        Ok(Value::map(m))
    });
    both(f, "append", "mustAppend", |_, a| {
        arity(a, 2, "append")?;
        let mut l = items(&a[0], "push")?.to_vec();
        l.push(a[1].clone());
        Ok(Value::list(l))
    });
    both(f, "push", "mustPush", |_, a| {
        arity(a, 2, "push")?;
        let mut l = items(&a[0], "push")?.to_vec();
        l.push(a[1].clone());
        Ok(Value::list(l))
    });
    both(f, "prepend", "mustPrepend", |_, a| {
        arity(a, 2, "prepend")?;
        let mut l = vec![a[1].clone()];
        l.extend_from_slice(items(&a[0], "prepend")?);
        Ok(Value::list(l))
    });
    both(f, "first", "mustFirst", |_, a| {
        arity(a, 1, "first")?;
        Ok(items(&a[0], "find first")?.first().cloned().unwrap_or(Value::Nil))
    });
    both(f, "last", "mustLast", |_, a| {
        arity(a, 1, "last")?;
        Ok(items(&a[0], "find last")?.last().cloned().unwrap_or(Value::Nil))
    });
    both(f, "rest", "mustRest", |_, a| {
        arity(a, 1, "rest")?;
        let l = items(&a[0], "find rest")?;
        Ok(Value::list(l.get(1..).unwrap_or_default().to_vec()))
    });
    both(f, "initial", "mustInitial", |_, a| {
        arity(a, 1, "initial")?;
        let l = items(&a[0], "find initial")?;
        Ok(Value::list(l[..l.len().saturating_sub(1)].to_vec()))
    });
    both(f, "reverse", "mustReverse", |_, a| {
        arity(a, 1, "reverse")?;
        Ok(Value::list(items(&a[0], "find reverse")?.iter().rev().cloned().collect()))
    });
    both(f, "uniq", "mustUniq", |_, a| {
        arity(a, 1, "uniq")?;
        let mut out: Vec<Value> = Vec::new();
        for v in items(&a[0], "find uniq")? {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    both(f, "compact", "mustCompact", |_, a| {
        arity(a, 1, "compact")?;
        Ok(Value::list(items(&a[0], "compact")?.iter().filter(|v| !empty(v)).cloned().collect()))
    });
    both(f, "without", "mustWithout", |_, a| {
        at_least(a, 1, "without")?;
        let l = items(&a[0], "find without")?;
        Ok(Value::list(l.iter().filter(|v| !a[1..].contains(v)).cloned().collect()))
    });
    both(f, "has", "mustHas", |_, a| {
        arity(a, 2, "has")?;
        match &a[1] {
            Value::Nil => Ok(Value::Bool(false)),
            hay => Ok(Value::Bool(items(hay, "find has")?.contains(&a[0]))),
        }
    });
}

/// List functions: slicing, chunks, sorting, ranges.
fn register_more_lists(f: &mut Funcs) {
    both(f, "slice", "mustSlice", |_, a| {
        at_least(a, 1, "slice")?;
        let l = match &a[0] {
            Value::List(l) => l,
            other => {
                return Err(format!("list should be type of slice or array but {}", kind_of(other)))
            }
        };
        let bound = |i: usize, default: usize| -> Result<usize> {
            match a.get(i + 1) {
                None => Ok(default),
                Some(v) => {
                    usize::try_from(to_int(v)).map_err(|_| "slice bounds out of range".to_string())
                }
            }
        };
        let (start, end) = (bound(0, 0)?, bound(1, l.len())?);
        if start > end || end > l.len() {
            return Err(format!("slice bounds out of range [{start}:{end}]"));
        }
        Ok(Value::list(l[start..end].to_vec()))
    });
    both(f, "chunk", "mustChunk", |_, a| {
        arity(a, 2, "chunk")?;
        let size = usize::try_from(int(&a[0])?)
            .ok()
            .filter(|s| *s > 0)
            .ok_or("chunk size must be positive")?;
        let l = items(&a[1], "chunk")?;
        Ok(Value::list(l.chunks(size).map(|c| Value::list(c.to_vec())).collect()))
    });
    f.insert("concat", |_, a| {
        let mut out = Vec::new();
        for l in a {
            match l {
                Value::List(items) => out.extend_from_slice(items),
                other => return Err(format!("Cannot concat type {} as list", kind_of(other))),
            }
        }
        Ok(Value::list(out))
    });
    f.insert("sortAlpha", |_, a| {
        arity(a, 1, "sortAlpha")?;
        let mut out: Vec<String> = match &a[0] {
            Value::List(l) => l.iter().map(strval).collect(),
            other => vec![strval(other)],
        };
        out.sort();
        Ok(Value::list(out.iter().map(|s| Value::string(s)).collect()))
    });
    f.insert("until", |_, a| {
        arity(a, 1, "until")?;
        let count = int(&a[0])?;
        until_step(0, count, if count < 0 { -1 } else { 1 })
    });
    f.insert("untilStep", |_, a| {
        arity(a, 3, "untilStep")?;
        until_step(int(&a[0])?, int(&a[1])?, int(&a[2])?)
    });
    f.insert("seq", |_, a| {
        let p: Vec<i64> = a.iter().map(int).collect::<Result<_>>()?;
        let (start, end, step) = match p[..] {
            [end] => (1, end, if end < 1 { -1 } else { 1 }),
            [start, end] => (start, end, if end < start { -1 } else { 1 }),
            [start, step, end] => {
                if end < start && step > 0 {
                    return Ok(Value::string(""));
                }
                (start, end, step)
            }
            _ => return Ok(Value::string("")),
        };
        let increment = if end < start { -1 } else { 1 };
        let Value::List(l) = until_step(start, end + increment, step)? else { unreachable!() };
        let parts: Vec<String> = l.iter().map(strval).collect();
        Ok(Value::string(&parts.join(" ")))
    });
}

/// Dict functions.
fn register_dicts(f: &mut Funcs) {
    f.insert("hasKey", |_, a| {
        arity(a, 2, "hasKey")?;
        Ok(Value::Bool(map_arg(&a[0])?.borrow().contains_key(text(&a[1])?)))
    });
    f.insert("get", |_, a| {
        arity(a, 2, "get")?;
        let found = map_arg(&a[0])?.borrow().get(text(&a[1])?).cloned();
        Ok(found.unwrap_or_else(|| Value::string("")))
    });
    f.insert("set", |_, a| {
        arity(a, 3, "set")?;
        map_arg(&a[0])?.borrow_mut().insert(text(&a[1])?.to_string(), a[2].clone());
        Ok(a[0].clone())
    });
    f.insert("unset", |_, a| {
        arity(a, 2, "unset")?;
        map_arg(&a[0])?.borrow_mut().remove(text(&a[1])?);
        Ok(a[0].clone())
    });
    f.insert("keys", |_, a| {
        let mut out = Vec::new();
        for d in a {
            out.extend(map_arg(d)?.borrow().keys().map(|k| Value::string(k)));
        }
        Ok(Value::list(out))
    });
    f.insert("values", |_, a| {
        arity(a, 1, "values")?;
        Ok(Value::list(map_arg(&a[0])?.borrow().values().cloned().collect()))
    });
    f.insert("pick", |_, a| {
        at_least(a, 1, "pick")?;
        let m = map_arg(&a[0])?.borrow();
        let mut out = BTreeMap::new();
        for k in &a[1..] {
            let k = text(k)?;
            if let Some(v) = m.get(k) {
                out.insert(k.to_string(), v.clone());
            }
        }
        Ok(Value::map(out))
    });
    f.insert("omit", |_, a| {
        at_least(a, 1, "omit")?;
        let drop: Vec<&str> = a[1..].iter().map(text).collect::<Result<_>>()?;
        let m = map_arg(&a[0])?.borrow();
        Ok(Value::map(
            m.iter()
                .filter(|(k, _)| !drop.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    });
    f.insert("pluck", |_, a| {
        at_least(a, 1, "pluck")?;
        let key = text(&a[0])?;
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Some(v) = map_arg(d)?.borrow().get(key) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    both(f, "merge", "mustMerge", |_, a| merge_all(a, false));
    both(f, "mergeOverwrite", "mustMergeOverwrite", |_, a| merge_all(a, true));
    f.insert("dig", |_, a| {
        at_least(a, 3, "dig")?;
        let (keys, rest) = a.split_at(a.len() - 2);
        let mut current = Value::Map(map_arg(&rest[1])?.clone());
        for k in keys {
            let next = match &current {
                Value::Map(m) => m.borrow().get(text(k)?).cloned(),
                _ => None,
            };
            match next {
                Some(v) => current = v,
                None => return Ok(rest[0].clone()),
            }
        }
        Ok(current)
    });
    both(f, "deepCopy", "mustDeepCopy", |_, a| {
        arity(a, 1, "deepCopy")?;
        Ok(a[0].deep_copy())
    });
}

/// `empty`, `default`, `coalesce`, `ternary`, and the reflection helpers.
fn register_defaults(f: &mut Funcs) {
    f.insert("empty", |_, a| {
        arity(a, 1, "empty")?;
        Ok(Value::Bool(empty(&a[0])))
    });
    f.insert("default", |_, a| {
        at_least(a, 1, "default")?;
        Ok(match a.get(1) {
            Some(given) if !empty(given) => given.clone(),
            _ => a[0].clone(),
        })
    });
    f.insert("coalesce", |_, a| Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil)));
    f.insert("all", |_, a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    f.insert("any", |_, a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    f.insert("ternary", |_, a| {
        arity(a, 3, "ternary")?;
        match &a[2] {
            Value::Bool(b) => Ok(if *b { a[0].clone() } else { a[1].clone() }),
            other => Err(wrong("bool", other)),
        }
    });
    f.insert("kindOf", |_, a| {
        arity(a, 1, "kindOf")?;
        Ok(Value::string(kind_of(&a[0])))
    });
    f.insert("kindIs", |_, a| {
        arity(a, 2, "kindIs")?;
        Ok(Value::Bool(text(&a[0])? == kind_of(&a[1])))
    });
    f.insert("typeOf", |_, a| {
        arity(a, 1, "typeOf")?;
        Ok(Value::string(a[0].type_name()))
    });
    f.insert("typeIs", |_, a| {
        arity(a, 2, "typeIs")?;
        Ok(Value::Bool(text(&a[0])? == a[1].type_name()))
    });
    f.insert("typeIsLike", |_, a| {
        arity(a, 2, "typeIsLike")?;
        let t = text(&a[0])?;
        let name = a[1].type_name();
        Ok(Value::Bool(t == name || t == format!("*{name}")))
    });
    f.insert("deepEqual", |_, a| {
        arity(a, 2, "deepEqual")?;
        Ok(Value::Bool(a[0] == a[1]))
    });
}

/// Go's `reflect.Kind` name of a value.
pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Object(_) => "struct",
    }
}

/// sprig's `toInt` (cast's `ToInt`, errors as 0).
pub(super) fn to_int(v: &Value) -> i64 {
    super::numbers::to_int64(v).unwrap_or(0)
}

/// How many items `until`, `untilStep` and `seq` may make.
const MAX_ITEMS: i64 = 1 << 20;

fn until_step(from: i64, to: i64, by: i64) -> Result<Value> {
    let mut out = Vec::new();
    let mut i = from;
    let going = |i: i64| if by > 0 { i < to } else { i > to };
    if by == 0 || (to < from && by > 0) || (to > from && by < 0) {
        return Ok(Value::list(out));
    }
    while going(i) {
        if i64::try_from(out.len()).unwrap_or(i64::MAX) >= MAX_ITEMS {
            return Err(format!("more than {MAX_ITEMS} items"));
        }
        out.push(Value::Int(i));
        i = match i.checked_add(by) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(Value::list(out))
}

/// `merge dst src…` and `mergeOverwrite dst src…` (mergo's `Merge`, with `WithOverride` for
/// the latter): into `dst`, changed in place and returned.
fn merge_all(a: &[Value], overwrite: bool) -> Result<Value> {
    at_least(a, 1, if overwrite { "mergeOverwrite" } else { "merge" })?;
    let dst = map_arg(&a[0])?;
    for src in &a[1..] {
        let src = map_arg(src)?;
        if std::rc::Rc::ptr_eq(dst, src) {
            continue;
        }
        merge_into(dst, &src.borrow().clone(), overwrite, 0);
    }
    Ok(a[0].clone())
}

fn merge_into(
    dst: &std::rc::Rc<std::cell::RefCell<BTreeMap<String, Value>>>,
    src: &BTreeMap<String, Value>,
    overwrite: bool,
    depth: usize,
) {
    if depth > 100 {
        return;
    }
    for (k, sv) in src {
        let dv = dst.borrow().get(k).cloned();
        let replace = match (sv, &dv) {
            (Value::Nil, _) => overwrite,
            (Value::Map(sm), Some(Value::Map(dm))) if !dm.borrow().is_empty() => {
                if !std::rc::Rc::ptr_eq(sm, dm) {
                    let inner = sm.borrow().clone();
                    merge_into(dm, &inner, overwrite, depth + 1);
                }
                false
            }
            (_, None) => true,
            (_, Some(d)) => overwrite || empty(d),
        };
        if replace {
            dst.borrow_mut().insert(k.clone(), sv.clone());
        }
    }
}
