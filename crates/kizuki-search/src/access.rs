//! Who may find what: `kizuki_domain::access` decides, this module only translates its answer
//! into index terms. Every document carries audience tokens; a viewer's
//! [`kizuki_domain::access::report_visibility`] clauses (and the case rule of
//! [`kizuki_domain::access::decide`]) become the set of tokens the viewer holds, and every
//! search, count, facet and similar-items query is intersected with that set inside the index
//! query. Nothing is filtered after the fact, so a document a viewer may not see never reaches
//! a collector: not as a hit, not in a total, not in a facet count.
//!
//! - A report carries one token per way it can be visible: by label alone, by its owner, by
//!   its sector, by each organisation and user it was shared with, by its publication — each
//!   combined with its TLP label (for label alone and sector: with every set of labels that
//!   contains its own, so a clause allowing several labels is one term). A clause of the
//!   visibility rule names exactly one of those ways, so "any clause matches" becomes "the
//!   viewer holds one of the document's tokens".
//! - A case (and each lesson) as written is the centre's working text: only centre staff find
//!   it. Its published, anonymised snapshot is indexed separately and found by everyone else,
//!   the public included, so nobody outside the centre can ever match un-anonymised words.
//!   (The source organisation reads its own case during sign-off on the sign-off page, not
//!   through search.)
//!
//! The test at the bottom checks the translation against `kizuki_domain::access` for every
//! role, organisation, label, sharing and publication combination.

use kizuki_domain::access::{Member, VisibilityClause, report_visibility};
use kizuki_domain::ids::{OrgId, UserId};
use kizuki_domain::org::OrgKind;
use kizuki_domain::taxonomy::{Code, Tlp};
use kizuki_domain::user::Role;

pub use kizuki_domain::access::Viewer;

/// Held by centre staff: the case texts as written.
const CASE_WORKING: &str = "case:centre";
/// Held by everyone else: published case snapshots.
const CASE_PUBLISHED: &str = "case:published";

/// What a document's visibility depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience<'a> {
    Report {
        org: OrgId,
        sector: &'a str,
        tlp: Tlp,
        shared_with: &'a [OrgId],
        recipients: &'a [UserId],
        published: bool,
    },
    /// A case or lesson as the centre writes it.
    WorkingCase,
    /// The published snapshot of a case or lesson.
    PublishedCase,
}

fn label(t: Tlp) -> &'static str {
    t.code()
}

/// The bit of a label in a label set.
fn bit(t: Tlp) -> u8 {
    let i = Tlp::ALL.iter().position(|x| *x == t).unwrap_or(0);
    1 << i
}

/// A set of labels as one token part (`m13`). A document stands in every set that contains
/// its label, so a clause "any of these labels" is one posting list instead of a union of
/// several large ones — what keeps the centre's and operators' queries as fast as one term.
fn mask_of(labels: &[Tlp]) -> u8 {
    labels.iter().fold(0, |m, t| m | bit(*t))
}

/// Every label set containing `t`.
fn masks_with(t: Tlp) -> impl Iterator<Item = u8> {
    let all = mask_of(&Tlp::ALL);
    (1..=all).filter(move |m| m & bit(t) != 0)
}

/// The audience tokens of a document.
pub fn audience(a: &Audience<'_>) -> Vec<String> {
    match a {
        Audience::WorkingCase => vec![CASE_WORKING.to_owned()],
        Audience::PublishedCase => vec![CASE_PUBLISHED.to_owned()],
        Audience::Report {
            org,
            sector,
            tlp,
            shared_with,
            recipients,
            published,
        } => {
            let l = label(*tlp);
            let mut out = Vec::with_capacity(40 + shared_with.len() + recipients.len());
            // Label alone and by sector: the dimensions whose posting lists are large.
            out.extend(masks_with(*tlp).map(|m| format!("l:m{m}")));
            if !sector.is_empty() {
                out.extend(masks_with(*tlp).map(|m| format!("s:{sector}:m{m}")));
            }
            out.push(format!("o:{}:{l}", org.0));
            out.extend(shared_with.iter().map(|o| format!("w:{}:{l}", o.0)));
            out.extend(recipients.iter().map(|u| format!("u:{}:{l}", u.0)));
            if *published {
                out.push(format!("p:{l}"));
            }
            out
        }
    }
}

/// The tokens one visibility clause grants. A clause combining several ways (owner *and*
/// sector, say) has no token here; it grants nothing, failing closed, and the exhaustive test
/// below fails so the translation gets extended.
fn clause_tokens(c: &VisibilityClause, out: &mut Vec<String>) {
    let ways = usize::from(c.org.is_some())
        + usize::from(c.sectors.is_some())
        + usize::from(c.shared_with.is_some())
        + usize::from(c.recipient.is_some())
        + usize::from(c.published_only);
    if ways > 1 {
        tracing::error!(?c, "visibility clause has no index form; it grants nothing");
        return;
    }
    let m = mask_of(&c.labels);
    if c.org.is_none() && c.shared_with.is_none() && c.recipient.is_none() && !c.published_only {
        match &c.sectors {
            Some(sectors) => out.extend(sectors.iter().map(|s| format!("s:{}:m{m}", s.0))),
            None => out.push(format!("l:m{m}")),
        }
        return;
    }
    for t in &c.labels {
        let l = label(*t);
        if let Some(o) = c.org {
            out.push(format!("o:{}:{l}", o.0));
        } else if let Some(o) = c.shared_with {
            out.push(format!("w:{}:{l}", o.0));
        } else if let Some(u) = c.recipient {
            out.push(format!("u:{}:{l}", u.0));
        } else if c.published_only {
            out.push(format!("p:{l}"));
        }
    }
}

/// The audience tokens `viewer` holds. An empty list finds nothing.
pub fn tokens(viewer: &Viewer) -> Vec<String> {
    let mut out = Vec::new();
    for c in &report_visibility(viewer).clauses {
        clause_tokens(c, &mut out);
    }
    match viewer {
        Viewer::Public => out.push(CASE_PUBLISHED.to_owned()),
        Viewer::Member(m) if !m.is_consistent() => out.clear(),
        Viewer::Member(m) if m.role.is_centre() => out.push(CASE_WORKING.to_owned()),
        Viewer::Member(_) => out.push(CASE_PUBLISHED.to_owned()),
    }
    out.sort();
    out.dedup();
    out
}

/// Whether a viewer may see a document with these audience tokens: the same rule the index
/// query applies, for callers that hold a document outside the index (tests, the benchmark).
pub fn may_see(viewer: &Viewer, audience: &[String]) -> bool {
    tokens(viewer).iter().any(|v| audience.contains(v))
}

/// A centre analyst, for tools and benchmarks that search "as the centre".
pub fn centre_viewer() -> Viewer {
    synthetic(Role::Analyst, OrgId(0), OrgKind::Centre, Vec::new())
}

/// A reporter of `org`, for tools and benchmarks.
pub fn operator_viewer(org: OrgId) -> Viewer {
    synthetic(Role::Reporter, org, OrgKind::Operator, Vec::new())
}

/// A ministry user of `org` overseeing `sectors`, for tools and benchmarks.
pub fn ministry_viewer(org: OrgId, sectors: &[&str]) -> Viewer {
    let oversees = sectors.iter().map(|s| Code((*s).to_owned())).collect();
    synthetic(Role::Ministry, org, OrgKind::Ministry, oversees)
}

fn synthetic(role: Role, org_id: OrgId, org_kind: OrgKind, oversees: Vec<Code>) -> Viewer {
    Viewer::Member(Member {
        user_id: UserId(0),
        role,
        org_id,
        org_kind,
        oversees,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuki_domain::access::{Action, CaseRef, ReportRef, Resource, decide};

    const ORGS: [OrgId; 3] = [OrgId(1), OrgId(2), OrgId(10)];
    const USERS: [UserId; 2] = [UserId(7), UserId(8)];
    const SECTORS: [&str; 2] = ["railway", "finance"];

    fn viewers() -> Vec<Viewer> {
        let mut v = vec![Viewer::Public];
        for role in Role::ALL {
            for (org, kind) in [
                (OrgId(1), OrgKind::Operator),
                (OrgId(10), OrgKind::Ministry),
                (OrgId(20), OrgKind::Centre),
                (OrgId(2), OrgKind::Operator),
            ] {
                for user in USERS {
                    let oversees = if kind == OrgKind::Ministry {
                        vec![Code("railway".into())]
                    } else {
                        Vec::new()
                    };
                    v.push(Viewer::Member(Member {
                        user_id: user,
                        role,
                        org_id: org,
                        org_kind: kind,
                        oversees,
                    }));
                }
            }
        }
        v
    }

    /// Every combination the rule can tell apart, against `decide` itself.
    #[test]
    fn reports_agree_with_the_domain_rule() {
        let share_sets: [&[OrgId]; 3] = [&[], &[OrgId(2)], &[OrgId(10), OrgId(2)]];
        let rcpt_sets: [&[UserId]; 2] = [&[], &[UserId(7)]];
        let mut checked = 0;
        for viewer in viewers() {
            let held = tokens(&viewer);
            for org in ORGS {
                for sector in SECTORS {
                    let code = Code(sector.to_owned());
                    for tlp in Tlp::ALL {
                        for shared in share_sets {
                            for rcpt in rcpt_sets {
                                for published in [false, true] {
                                    let r = ReportRef {
                                        org_id: org,
                                        sector: &code,
                                        tlp,
                                        shared_with: shared,
                                        recipients: rcpt,
                                        published,
                                    };
                                    let want = decide(&viewer, Action::Read, &Resource::Report(r))
                                        .is_allowed();
                                    let aud = audience(&Audience::Report {
                                        org,
                                        sector,
                                        tlp,
                                        shared_with: shared,
                                        recipients: rcpt,
                                        published,
                                    });
                                    let got = held.iter().any(|t| aud.contains(t));
                                    assert_eq!(got, want, "{viewer:?} {r:?}");
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// Search shows case text only where `decide` allows reading the case: working text to
    /// the centre, published snapshots to whoever may read a published case.
    #[test]
    fn cases_agree_with_the_domain_rule() {
        let working = audience(&Audience::WorkingCase);
        let published = audience(&Audience::PublishedCase);
        for viewer in viewers() {
            let held = tokens(&viewer);
            let sees_working = held.iter().any(|t| working.contains(t));
            let sees_published = held.iter().any(|t| published.contains(t));
            let draft = CaseRef {
                source_org: Some(OrgId(1)),
                shown_to_source: false,
                awaiting_source: false,
                published: false,
            };
            let may_draft = decide(&viewer, Action::Read, &Resource::Case(draft)).is_allowed();
            assert_eq!(sees_working, may_draft, "{viewer:?}");
            let public = CaseRef {
                published: true,
                ..draft
            };
            let may_published = decide(&viewer, Action::Read, &Resource::Case(public)).is_allowed();
            // Centre staff find the working text of a published case instead of its copy.
            assert_eq!(sees_published || sees_working, may_published, "{viewer:?}");
            assert!(
                !(sees_published && sees_working),
                "duplicates for {viewer:?}"
            );
        }
    }

    #[test]
    fn the_public_finds_no_unpublished_report_and_no_working_case() {
        let held = tokens(&Viewer::Public);
        let aud = audience(&Audience::Report {
            org: OrgId(1),
            sector: "railway",
            tlp: Tlp::Clear,
            shared_with: &[],
            recipients: &[],
            published: false,
        });
        assert!(!held.iter().any(|t| aud.contains(t)));
        assert!(!may_see(&Viewer::Public, &audience(&Audience::WorkingCase)));
        assert!(may_see(
            &Viewer::Public,
            &audience(&Audience::PublishedCase)
        ));
    }
}
