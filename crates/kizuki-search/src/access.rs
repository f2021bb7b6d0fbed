//! Who may see what. Each indexed document carries audience tokens computed from its owner
//! organisation, sector and TLP label; a [`Viewer`] turns into the set of tokens it holds,
//! and every search, count, facet and similar-items query is intersected with that set
//! inside the index query. Nothing is filtered after the fact, so a document a viewer may
//! not see never reaches a collector: not as a hit, not in a total, not in a facet count.
//!
//! The rules (TLP 2.0 read for a sharing community of operators, ministries and the centre):
//! | viewer | sees |
//! |---|---|
//! | centre staff (analyst, editor, admin) | everything except TLP:RED |
//! | operator staff (reporter, operator admin) | everything of their own organisation; TLP:CLEAR and TLP:GREEN of others |
//! | ministry staff | their own organisation's; TLP:CLEAR/GREEN of all; TLP:AMBER too for the sectors they oversee |
//! | public (no login) | TLP:CLEAR cases and lessons; no reports |
//!
//! This follows docs/SECURITY.md §2–3 where the index knows enough: TLP:AMBER+STRICT stays with
//! the reporting organisation and the centre; TLP:RED with the reporting organisation only
//! (named recipients are not indexed yet, so nobody else sees it here); reports have no
//! publication flag yet, so the public sees none. A case is seen by whoever may see the
//! report it was written from (a case without a report is the centre's alone).

use kizuki_domain::ids::OrgId;
use kizuki_domain::org::Organisation;
use kizuki_domain::taxonomy::Tlp;
use kizuki_domain::user::{Role, User};
use serde::{Deserialize, Serialize};

/// The person a query runs for. Build it from the logged-in user with [`Viewer::for_user`]
/// or use [`Viewer::Public`] for anonymous pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Viewer {
    /// No login: TLP:CLEAR only.
    Public,
    /// Staff of an operator (or vendor) organisation.
    Member { org: OrgId },
    /// Staff of a competent ministry, overseeing `sectors`.
    Ministry { org: OrgId, sectors: Vec<String> },
    /// Coordinating-centre staff: no restriction.
    Centre,
}

impl Viewer {
    /// The viewer for a logged-in user of `org` (the user's own organisation). An inactive
    /// user sees what the public sees.
    pub fn for_user(user: &User, org: &Organisation) -> Viewer {
        if !user.active {
            return Viewer::Public;
        }
        match user.user.role {
            r if r.is_centre() => Viewer::Centre,
            Role::Ministry => Viewer::Ministry {
                org: user.user.org_id,
                sectors: org.org.sectors.iter().map(|s| s.0.clone()).collect(),
            },
            _ => Viewer::Member {
                org: user.user.org_id,
            },
        }
    }

    /// The audience tokens this viewer holds; `None` means unrestricted.
    pub fn tokens(&self) -> Option<Vec<String>> {
        match self {
            Viewer::Centre => Some(vec![CENTRE.to_owned()]),
            Viewer::Public => Some(vec![PUBLIC.to_owned()]),
            Viewer::Member { org } => Some(vec![org_token(*org), COMMUNITY.to_owned()]),
            Viewer::Ministry { org, sectors } => {
                let mut t = vec![org_token(*org), COMMUNITY.to_owned()];
                t.extend(sectors.iter().map(|s| sector_token(s)));
                Some(t)
            }
        }
    }
}

const PUBLIC: &str = "public";
const CENTRE: &str = "centre";
const COMMUNITY: &str = "community";

fn org_token(org: OrgId) -> String {
    format!("org:{}", org.0)
}

fn sector_token(sector: &str) -> String {
    format!("sector:{sector}")
}

/// The audience tokens of a document owned by `org` (none: the centre's own), in `sector`,
/// labelled `tlp`; `report` for a report (which the public never sees), not a case or lesson.
pub fn audience(org: Option<OrgId>, sector: &str, tlp: Tlp, report: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(5);
    if let Some(o) = org {
        out.push(org_token(o));
    }
    if tlp != Tlp::Red {
        out.push(CENTRE.to_owned());
    }
    if matches!(tlp, Tlp::Clear | Tlp::Green) {
        out.push(COMMUNITY.to_owned());
    }
    if tlp == Tlp::Clear && !report {
        out.push(PUBLIC.to_owned());
    }
    if matches!(tlp, Tlp::Clear | Tlp::Green | Tlp::Amber) && !sector.is_empty() {
        out.push(sector_token(sector));
    }
    out
}

/// Whether a viewer may see a document with these audience tokens: the same rule the index
/// query applies, for callers that hold a document outside the index (tests, the benchmark).
pub fn may_see(viewer: &Viewer, audience: &[String]) -> bool {
    match viewer.tokens() {
        None => true,
        Some(t) => t.iter().any(|v| audience.contains(v)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tlp_rules() {
        let a = OrgId(1);
        let b = Viewer::Member { org: OrgId(2) };
        let own = Viewer::Member { org: a };
        let min = Viewer::Ministry {
            org: OrgId(9),
            sectors: vec!["railway".into()],
        };
        let min_other = Viewer::Ministry {
            org: OrgId(9),
            sectors: vec!["finance".into()],
        };
        for tlp in Tlp::ALL {
            let aud = audience(Some(a), "railway", tlp, true);
            assert!(may_see(&own, &aud), "own org sees its {tlp}");
            assert_eq!(may_see(&Viewer::Centre, &aud), tlp != Tlp::Red, "{tlp}");
            let case = audience(Some(a), "railway", tlp, false);
            assert_eq!(may_see(&Viewer::Public, &case), tlp == Tlp::Clear, "{tlp}");
            assert_eq!(
                may_see(&b, &aud),
                matches!(tlp, Tlp::Clear | Tlp::Green),
                "{tlp}"
            );
            assert!(!may_see(&Viewer::Public, &aud), "no report is public yet");
            assert_eq!(
                may_see(&min, &aud),
                matches!(tlp, Tlp::Clear | Tlp::Green | Tlp::Amber),
                "{tlp}"
            );
            assert_eq!(
                may_see(&min_other, &aud),
                matches!(tlp, Tlp::Clear | Tlp::Green),
                "{tlp}"
            );
        }
    }

    #[test]
    fn centre_documents_without_owner() {
        let aud = audience(None, "", Tlp::Amber, false);
        assert!(!may_see(&Viewer::Member { org: OrgId(1) }, &aud));
        assert!(may_see(&Viewer::Centre, &aud));
    }
}
