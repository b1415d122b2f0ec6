//! Which tenant a host belongs to, found through an index of the tenants' domains (by exact
//! host, and by the literal text after a leading `*`) instead of by trying every tenant's list
//! for every host: a tree of many tenants that each claim foreign hosts stays linear.

use std::collections::HashMap;

use super::tenants::{HostKey, Tenant, TenantIndex};

/// Tenant names by the keys of their domain entries.
#[derive(Debug, Default, Clone)]
pub struct DomainOwners {
    /// Exact host → tenants that allow it.
    exact: HashMap<String, Vec<String>>,
    /// `.team-a.example.com` → tenants with the entry `*.team-a.example.com`.
    suffix: HashMap<String, Vec<String>>,
    /// Tenants with an entry no key finds (a regex, a wildcard inside): always tried.
    others: Vec<String>,
}

impl DomainOwners {
    #[must_use]
    pub fn new(index: &TenantIndex) -> Self {
        let mut owners = DomainOwners::default();
        for (name, tenant) in &index.tenants {
            let Some(keys) = tenant.domains.host_keys() else {
                owners.others.push(name.clone());
                continue;
            };
            for key in keys {
                let (map, key) = match key {
                    HostKey::Exact(k) => (&mut owners.exact, k),
                    HostKey::Suffix(k) => (&mut owners.suffix, k),
                };
                let names = map.entry(key.to_string()).or_default();
                if names.last() != Some(name) {
                    names.push(name.clone());
                }
            }
        }
        owners
    }

    /// The first tenant in name order, other than `except`, whose domains allow `host`.
    #[must_use]
    pub fn owner<'t>(
        &self,
        index: &'t TenantIndex,
        host: &str,
        except: &str,
    ) -> Option<&'t Tenant> {
        let suffixes = host.match_indices('.').map(|(i, _)| &host[i..]);
        let candidates = self
            .exact
            .get(host)
            .into_iter()
            .chain(suffixes.filter_map(|s| self.suffix.get(s)))
            .flatten()
            .chain(&self.others);
        let mut best: Option<&Tenant> = None;
        for name in candidates {
            if name == except || best.is_some_and(|b| b.name <= *name) {
                continue;
            }
            if let Some(tenant) = index.tenants.get(name).filter(|t| t.domains.matches(host)) {
                best = Some(tenant);
            }
        }
        best
    }
}
