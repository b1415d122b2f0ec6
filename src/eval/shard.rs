//! `--shard K/N`: a stable share of the tenants for one of N CI jobs.
//!
//! An object belongs to the shard of its tenant; the objects no tenant owns (the platform's)
//! all belong to one shard. The share is an FNV-1a hash of the tenant's name (or of a fixed
//! key for the platform) modulo N, so it depends on nothing but the name (not on the tree, the
//! order or the platform). A shard runs the per-object rules on its own objects only;
//! whole-tree rules run everywhere and each shard keeps the findings of its objects. Findings
//! merge into one per cause only among objects of one tenant (or among the platform's: eval's
//! `merge_causes`), so the N shards' findings are exactly one run's.

use crate::finding::Finding;

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

    /// Whether an object of `tenant` (`None`: the platform's) is this shard's.
    #[must_use]
    pub fn owns(&self, tenant: Option<&str>) -> bool {
        let mut h = Fnv::default();
        match tenant {
            Some(t) => {
                h.write("t");
                h.write(t);
            }
            None => h.write("platform"),
        }
        h.0 % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether a finding is this shard's: the shard of its object's tenant.
    #[must_use]
    pub fn owns_finding(&self, finding: &Finding) -> bool {
        self.owns(finding.tenant.as_deref())
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// Whether two findings may merge into one: their objects are of one tenant, or both the
/// platform's (so they are in one shard).
pub(crate) fn same_key(a: &Finding, b: &Finding) -> bool {
    a.tenant == b.tenant
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
    fn every_tenant_is_in_exactly_one_shard_and_the_platform_in_one() {
        let shards: Vec<Shard> =
            (1..=3).map(|k| Shard::parse(&format!("{k}/3")).unwrap()).collect();
        let mut per_shard = [0usize; 3];
        for i in 0..300 {
            let tenant = format!("tenant-{i}");
            let owners: Vec<usize> = (0..3).filter(|&s| shards[s].owns(Some(&tenant))).collect();
            assert_eq!(owners.len(), 1);
            per_shard[owners[0]] += 1;
        }
        // A fair share each (300 tenants: about 100).
        assert!(per_shard.iter().all(|&n| (70..=130).contains(&n)), "{per_shard:?}");
        assert_eq!(shards.iter().filter(|s| s.owns(None)).count(), 1);
        // FNV-1a of `t` 0xff `team-a` 0xff is 12244876480002413084, 2 mod 3: the same tenant
        // is in the same shard anywhere.
        let first: Vec<bool> = shards.iter().map(|s| s.owns(Some("team-a"))).collect();
        assert_eq!(first, [false, false, true]);
    }
}
