//! `--shard K/N`: a stable share of the tenants for one of N CI jobs.
//!
//! An object belongs to the shard of its tenant; an object no tenant owns, to the shard of its
//! namespace; a cluster-scoped one, to the shard of its kind and name. The share is an FNV-1a
//! hash of that key modulo N, so it depends on nothing but the key (not on the tree, the order
//! or the platform). A shard runs the per-object rules on its own objects only; whole-tree
//! rules run everywhere and each shard keeps the findings of its objects. Findings merge into
//! one per cause only within a key (eval's `merge_causes`), so the N shards' findings are
//! exactly one run's.

use crate::finding::{Finding, ResourceRef};

/// Shard `index` (0-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` (1 ≤ K ≤ N), as `--shard` takes it.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not K/N with 1 <= K <= N (for example 2/3)");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) =
            (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { index: k - 1, count: n })
    }

    /// Whether an object of `tenant` (or, without one, of this resource) is this shard's.
    #[must_use]
    pub fn owns(&self, tenant: Option<&str>, resource: &ResourceRef) -> bool {
        let mut h = Fnv::default();
        key(tenant, resource).for_each(|part| h.write(part));
        h.0 % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether a finding is this shard's: the shard of its object.
    #[must_use]
    pub fn owns_finding(&self, finding: &Finding) -> bool {
        self.owns(finding.tenant.as_deref(), &finding.resource)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// The parts of the key that decides an object's shard (and which findings may merge).
pub(crate) fn key<'a>(
    tenant: Option<&'a str>,
    resource: &'a ResourceRef,
) -> impl Iterator<Item = &'a str> {
    let parts: [&str; 4] = match tenant {
        Some(t) => ["t", t, "", ""],
        None if !resource.namespace.is_empty() => ["n", &resource.namespace, "", ""],
        None => ["c", &resource.kind, "/", &resource.name],
    };
    parts.into_iter()
}

/// Whether two findings have the same shard key.
pub(crate) fn same_key(a: &Finding, b: &Finding) -> bool {
    key(a.tenant.as_deref(), &a.resource).eq(key(b.tenant.as_deref(), &b.resource))
}

/// 64-bit FNV-1a: stable across versions and platforms.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, part: &str) {
        for b in part.bytes().chain([0xff]) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(kind: &str, ns: &str, name: &str) -> ResourceRef {
        ResourceRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn shards_parse_as_one_based_k_of_n() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard { index: 0, count: 1 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard::parse("2/3").unwrap().to_string(), "2/3");
    }

    #[test]
    fn every_object_is_in_exactly_one_shard_and_a_tenant_in_one() {
        let shards: Vec<Shard> =
            (1..=3).map(|k| Shard::parse(&format!("{k}/3")).unwrap()).collect();
        let mut per_shard = [0usize; 3];
        for i in 0..300 {
            let tenant = format!("tenant-{i}");
            let a = resource("Deployment", &format!("{tenant}-apps"), "web");
            let b = resource("NetworkPolicy", &format!("{tenant}-data"), "deny");
            let owners: Vec<usize> =
                (0..3).filter(|&s| shards[s].owns(Some(&tenant), &a)).collect();
            assert_eq!(owners.len(), 1);
            assert!(shards[owners[0]].owns(Some(&tenant), &b), "one tenant, one shard");
            per_shard[owners[0]] += 1;
            let cluster = resource("ClusterRole", "", &tenant);
            assert_eq!((0..3).filter(|&s| shards[s].owns(None, &cluster)).count(), 1);
        }
        // A fair share each (300 tenants: about 100).
        assert!(per_shard.iter().all(|&n| (70..=130).contains(&n)), "{per_shard:?}");
        // The same key always lands in the same shard (the hash is not seeded).
        let r = resource("Namespace", "", "team-a");
        let first: Vec<bool> = shards.iter().map(|s| s.owns(Some("team-a"), &r)).collect();
        let again: Vec<bool> = shards.iter().map(|s| s.owns(Some("team-a"), &r)).collect();
        assert_eq!(first, again);
        // FNV-1a of t·team-a·· (each part ended by 0xff) is 16290042214770658290, 0 mod 3.
        assert_eq!(first, [true, false, false], "FNV-1a of the key is fixed");
    }
}
