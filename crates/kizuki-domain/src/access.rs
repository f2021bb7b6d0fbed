//! Who may see and do what: the one place access is decided, for pages, the API, search and
//! its facet counts, similar cases, exports and the audit view alike.
//!
//! Callers describe the viewer ([`Viewer`]) and the thing asked for ([`Resource`]) in plain
//! values and get a [`Decision`]; lists and search apply the same rule through
//! [`report_visibility`]. docs/SECURITY.md states the TLP 2.0 semantics and the role matrix in
//! prose; the tests at the bottom hold the same matrix as a literal table.
//!
//! Everything fails closed: an account whose role does not fit its organisation's kind (an
//! analyst in an operator, a reporter in the centre) is denied everything, so a directory
//! mistake cannot widen access.

use crate::ids::{OrgId, UserId};
use crate::org::{OrgKind, Organisation};
use crate::report::Report;
use crate::taxonomy::{Code, Tlp};
use crate::user::{Role, User};

/// The answer. Callers turn [`Decision::Deny`] on a single record into "not found", so a
/// record's existence does not leak.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    Deny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }

    fn when(allowed: bool) -> Decision {
        if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}

/// A signed-in, active user as access control sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
    pub org_id: OrgId,
    pub org_kind: OrgKind,
    /// The sectors the member's organisation oversees. Only a ministry's count: an operator's
    /// own sector gives it nothing over its peers.
    pub oversees: Vec<Code>,
}

impl Member {
    /// The member for `user` of `org`; `None` when the user is disabled or `org` is not the
    /// user's organisation, so a caller that fetched the wrong record gets no viewer at all.
    pub fn new(user: &User, org: &Organisation) -> Option<Member> {
        if !user.active || user.user.org_id != org.id {
            return None;
        }
        let oversees = if org.org.kind == OrgKind::Ministry {
            org.org.sectors.clone()
        } else {
            Vec::new()
        };
        Some(Member {
            user_id: user.id,
            role: user.user.role,
            org_id: org.id,
            org_kind: org.org.kind,
            oversees,
        })
    }

    /// Whether the role belongs in this kind of organisation. Vendors have no accounts.
    pub fn is_consistent(&self) -> bool {
        match self.role {
            Role::Reporter | Role::OperatorAdmin => self.org_kind == OrgKind::Operator,
            Role::Ministry => self.org_kind == OrgKind::Ministry,
            Role::Analyst | Role::Editor | Role::Admin => self.org_kind == OrgKind::Centre,
        }
    }

    fn is_operator(&self) -> bool {
        matches!(self.role, Role::Reporter | Role::OperatorAdmin)
    }

    /// The centre's content staff; the system administrator is deliberately not among them.
    fn is_content_staff(&self) -> bool {
        matches!(self.role, Role::Analyst | Role::Editor)
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// Anyone, without signing in.
    Public,
    Member(Member),
}

impl Viewer {
    pub fn is_public(&self) -> bool {
        matches!(self, Viewer::Public)
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Viewer::Public => None,
            Viewer::Member(m) => Some(m.role),
        }
    }
}

/// What access control needs to know about a report. Build it with [`ReportRef::of`] and add
/// the sharing lists the store keeps beside the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRef<'a> {
    /// The filing (owning) organisation.
    pub org_id: OrgId,
    pub sector: &'a Code,
    pub tlp: Tlp,
    /// Organisations the owner named (counts for TLP:AMBER only).
    pub shared_with: &'a [OrgId],
    /// Users the owner named (counts for TLP:RED only).
    pub recipients: &'a [UserId],
    /// Released to the public by the centre (counts for TLP:CLEAR and the public only).
    pub published: bool,
}

impl<'a> ReportRef<'a> {
    /// A report with nobody named and not published.
    pub fn of(r: &'a Report) -> ReportRef<'a> {
        ReportRef {
            org_id: r.org_id,
            sector: &r.details.sector,
            tlp: r.details.tlp,
            shared_with: &[],
            recipients: &[],
            published: false,
        }
    }

    pub fn shared(self, orgs: &'a [OrgId], users: &'a [UserId]) -> ReportRef<'a> {
        ReportRef {
            shared_with: orgs,
            recipients: users,
            ..self
        }
    }

    pub fn published(self, published: bool) -> ReportRef<'a> {
        ReportRef { published, ..self }
    }
}

/// What access control needs to know about a written case. From the sign-off state:
/// draft → neither flag; sent to the operator → both; approved, changes requested,
/// publishable or published → `shown_to_source` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseRef {
    /// The organisation whose report the case was written from.
    pub source_org: Option<OrgId>,
    /// The anonymised text has been sent to the source organisation, which may read it from
    /// then on.
    pub shown_to_source: bool,
    /// The source organisation's answer (approve or ask for changes) is awaited now.
    pub awaiting_source: bool,
    pub published: bool,
}

/// The thing asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Report(ReportRef<'a>),
    Case(CaseRef),
    Survey {
        published: bool,
    },
    /// The audit log, whole or in part.
    AuditLog,
    /// One organisation's users, IP allowlist and contacts.
    Organisation(OrgId),
    /// Taxonomies, retention, backups, every account.
    System,
}

/// What the viewer wants to do with the resource. Combinations not listed in
/// docs/SECURITY.md (publishing an audit log, triaging a survey) are denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See it, in a page, the API, search, an export or a similar-case list.
    Read,
    /// File a report for an organisation; open a case or survey.
    Create,
    /// Change a report's details or add a stage; write a case or survey.
    Edit,
    /// Classify, link, set status.
    Triage,
    /// Pass a report on beyond the reader's organisation.
    Forward,
    /// The source organisation's sign-off of its case's anonymised text.
    Approve,
    Publish,
    /// Manage an organisation's users and settings, or the system's.
    Manage,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Read,
        Action::Create,
        Action::Edit,
        Action::Triage,
        Action::Forward,
        Action::Approve,
        Action::Publish,
        Action::Manage,
    ];
}

/// Decides whether `viewer` may do `action` to `resource`.
pub fn decide(viewer: &Viewer, action: Action, resource: &Resource<'_>) -> Decision {
    let m = match viewer {
        Viewer::Public => return Decision::when(public(action, resource)),
        Viewer::Member(m) if m.is_consistent() => m,
        Viewer::Member(_) => return Decision::Deny,
    };
    Decision::when(match resource {
        Resource::Report(r) => report(m, action, r),
        Resource::Case(c) => case(m, action, c),
        Resource::Survey { published } => survey(m, action, *published),
        Resource::AuditLog => action == Action::Read && m.role == Role::Admin,
        Resource::Organisation(org) => {
            matches!(action, Action::Read | Action::Manage)
                && (m.role == Role::Admin || (m.role == Role::OperatorAdmin && *org == m.org_id))
        }
        Resource::System => {
            matches!(action, Action::Read | Action::Manage) && m.role == Role::Admin
        }
    })
}

/// Whether `viewer` may read the points of contact of `org` (whose sectors are `sectors`):
/// its own members, the centre, and the ministry overseeing one of its sectors — those who
/// must reach it in an emergency. Changing them is [`Action::Manage`] on the organisation.
pub fn reads_contacts(viewer: &Viewer, org: OrgId, sectors: &[Code]) -> bool {
    let Viewer::Member(m) = viewer else {
        return false;
    };
    m.org_id == org
        || m.role.is_centre()
        || (m.role == Role::Ministry && sectors.iter().any(|s| m.oversees.contains(s)))
}

/// Shorthand for the commonest question.
pub fn can_read_report(viewer: &Viewer, r: &ReportRef<'_>) -> bool {
    decide(viewer, Action::Read, &Resource::Report(*r)).is_allowed()
}

/// Whether `viewer` may give an account of `org` (of kind `org_kind`) the role `role`, so an
/// operator admin cannot mint an analyst and nobody can create an account that
/// [`Member::is_consistent`] would refuse.
pub fn may_grant(viewer: &Viewer, org: OrgId, org_kind: OrgKind, role: Role) -> Decision {
    let Viewer::Member(m) = viewer else {
        return Decision::Deny;
    };
    let target = Member {
        user_id: UserId(0),
        role,
        org_id: org,
        org_kind,
        oversees: Vec::new(),
    };
    let manages = decide(viewer, Action::Manage, &Resource::Organisation(org)).is_allowed();
    let within_own_powers = match m.role {
        Role::Admin => true,
        Role::OperatorAdmin => target.is_operator(),
        _ => false,
    };
    Decision::when(manages && within_own_powers && target.is_consistent())
}

fn public(action: Action, resource: &Resource<'_>) -> bool {
    action == Action::Read
        && match resource {
            Resource::Report(r) => r.tlp == Tlp::Clear && r.published,
            Resource::Case(c) => c.published,
            Resource::Survey { published } => *published,
            Resource::AuditLog | Resource::Organisation(_) | Resource::System => false,
        }
}

fn reads_report(m: &Member, r: &ReportRef<'_>) -> bool {
    // The filing organisation is the source: no label it chose locks it out of its own report.
    if m.is_operator() && r.org_id == m.org_id {
        return true;
    }
    match r.tlp {
        Tlp::Clear | Tlp::Green => true,
        Tlp::Amber => {
            // The centre receives every report, and the competent ministry sits on the
            // reporting path for its sectors (情報連絡 goes through 所管省庁), so both are
            // recipients of AMBER without being named.
            m.role.is_centre()
                || r.shared_with.contains(&m.org_id)
                || (m.role == Role::Ministry && m.oversees.contains(r.sector))
        }
        // STRICT keeps the report inside the organisation and the centre it was filed with.
        Tlp::AmberStrict => m.role.is_centre(),
        // RED names people; neither the centre nor a named organisation is enough.
        Tlp::Red => r.recipients.contains(&m.user_id),
    }
}

fn report(m: &Member, action: Action, r: &ReportRef<'_>) -> bool {
    let own = m.is_operator() && r.org_id == m.org_id;
    match action {
        Action::Read => reads_report(m, r),
        Action::Create => own,
        Action::Edit => own || (m.is_content_staff() && reads_report(m, r)),
        Action::Triage => m.is_content_staff() && reads_report(m, r),
        // TLP 2.0 allows onward sharing beyond the recipient's organisation only for CLEAR
        // and GREEN; AMBER stays with its recipients.
        Action::Forward => {
            (m.role == Role::Ministry || m.is_content_staff())
                && matches!(r.tlp, Tlp::Clear | Tlp::Green)
                && reads_report(m, r)
        }
        Action::Approve | Action::Publish | Action::Manage => false,
    }
}

fn case(m: &Member, action: Action, c: &CaseRef) -> bool {
    let source = m.is_operator() && c.source_org == Some(m.org_id);
    match action {
        Action::Read => c.published || m.role.is_centre() || (source && c.shown_to_source),
        Action::Create | Action::Edit => m.is_content_staff(),
        Action::Approve => source && c.awaiting_source && !c.published,
        Action::Publish => m.role == Role::Editor,
        Action::Triage | Action::Forward | Action::Manage => false,
    }
}

fn survey(m: &Member, action: Action, published: bool) -> bool {
    match action {
        Action::Read => published || m.role.is_centre(),
        Action::Create | Action::Edit => m.is_content_staff(),
        Action::Publish => m.role == Role::Editor,
        Action::Triage | Action::Forward | Action::Approve | Action::Manage => false,
    }
}

/// One way a report can be visible: every field that is set must hold. `labels` is never
/// empty, so a clause can never mean "any label" by omission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityClause {
    pub labels: Vec<Tlp>,
    /// The owning organisation is this one.
    pub org: Option<OrgId>,
    /// The report's sector is one of these.
    pub sectors: Option<Vec<Code>>,
    /// The owner named this organisation.
    pub shared_with: Option<OrgId>,
    /// The owner named this user.
    pub recipient: Option<UserId>,
    pub published_only: bool,
}

impl VisibilityClause {
    fn labels(labels: &[Tlp]) -> VisibilityClause {
        VisibilityClause {
            labels: labels.to_vec(),
            org: None,
            sectors: None,
            shared_with: None,
            recipient: None,
            published_only: false,
        }
    }

    pub fn matches(&self, r: &ReportRef<'_>) -> bool {
        self.labels.contains(&r.tlp)
            && self.org.is_none_or(|o| o == r.org_id)
            && self.sectors.as_ref().is_none_or(|s| s.contains(r.sector))
            && self.shared_with.is_none_or(|o| r.shared_with.contains(&o))
            && self.recipient.is_none_or(|u| r.recipients.contains(&u))
            && (!self.published_only || r.published)
    }
}

/// The reports a viewer may read, as a filter a query can apply: a report is visible when
/// any clause matches; no clauses means nothing is visible. It agrees with [`decide`] for
/// [`Action::Read`] on every report (tested exhaustively below), so lists, search, facet
/// counts and exports show exactly what the single-record pages would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportVisibility {
    pub clauses: Vec<VisibilityClause>,
}

impl ReportVisibility {
    pub fn matches(&self, r: &ReportRef<'_>) -> bool {
        self.clauses.iter().any(|c| c.matches(r))
    }

    pub fn is_nothing(&self) -> bool {
        self.clauses.is_empty()
    }
}

/// The filter for lists and search; see [`ReportVisibility`].
pub fn report_visibility(viewer: &Viewer) -> ReportVisibility {
    let m = match viewer {
        Viewer::Public => {
            return ReportVisibility {
                clauses: vec![VisibilityClause {
                    published_only: true,
                    ..VisibilityClause::labels(&[Tlp::Clear])
                }],
            };
        }
        Viewer::Member(m) if m.is_consistent() => m,
        Viewer::Member(_) => return ReportVisibility { clauses: vec![] },
    };
    let mut clauses = Vec::new();
    if m.role.is_centre() {
        clauses.push(VisibilityClause::labels(&[
            Tlp::Clear,
            Tlp::Green,
            Tlp::Amber,
            Tlp::AmberStrict,
        ]));
    } else {
        clauses.push(VisibilityClause::labels(&[Tlp::Clear, Tlp::Green]));
        clauses.push(VisibilityClause {
            shared_with: Some(m.org_id),
            ..VisibilityClause::labels(&[Tlp::Amber])
        });
        if m.is_operator() {
            clauses.push(VisibilityClause {
                org: Some(m.org_id),
                ..VisibilityClause::labels(&Tlp::ALL)
            });
        }
        if m.role == Role::Ministry && !m.oversees.is_empty() {
            clauses.push(VisibilityClause {
                sectors: Some(m.oversees.clone()),
                ..VisibilityClause::labels(&[Tlp::Amber])
            });
        }
    }
    clauses.push(VisibilityClause {
        recipient: Some(m.user_id),
        ..VisibilityClause::labels(&[Tlp::Red])
    });
    ReportVisibility { clauses }
}

#[cfg(test)]
mod tests {
    use super::*;

    const O1: OrgId = OrgId(1);
    const O2: OrgId = OrgId(2);
    const O3: OrgId = OrgId(3);
    const MIN: OrgId = OrgId(10);
    const CEN: OrgId = OrgId(20);
    const ELSEWHERE: OrgId = OrgId(99);
    const ME: UserId = UserId(7);
    const SOMEONE: UserId = UserId(8);

    fn code(s: &str) -> Code {
        Code(s.to_owned())
    }

    fn member(role: Role) -> Viewer {
        let (org_id, org_kind, oversees) = match role {
            Role::Reporter | Role::OperatorAdmin => (O1, OrgKind::Operator, vec![]),
            Role::Ministry => (
                MIN,
                OrgKind::Ministry,
                vec![code("railway"), code("finance")],
            ),
            Role::Analyst | Role::Editor | Role::Admin => (CEN, OrgKind::Centre, vec![]),
        };
        Viewer::Member(Member {
            user_id: ME,
            role,
            org_id,
            org_kind,
            oversees,
        })
    }

    fn letter(a: Action) -> char {
        match a {
            Action::Read => 'R',
            Action::Create => 'C',
            Action::Edit => 'E',
            Action::Triage => 'T',
            Action::Forward => 'F',
            Action::Approve => 'A',
            Action::Publish => 'P',
            Action::Manage => 'M',
        }
    }

    /// The allowed actions as letters in `Action::ALL` order, `-` for none.
    fn allowed(v: &Viewer, res: &Resource<'_>) -> String {
        let s: String = Action::ALL
            .into_iter()
            .filter(|a| decide(v, *a, res).is_allowed())
            .map(letter)
            .collect();
        if s.is_empty() { "-".to_owned() } else { s }
    }

    // The report matrix, written from docs/SECURITY.md and not from the code. Viewers: a
    // reporter or operator admin of operator O1 (sector railway), a ministry overseeing railway
    // and finance, and the centre's three roles. Relation of the report to the viewer:
    // `own` = filed by the viewer's own organisation (sector railway); `in` = another
    // operator's, in railway; `out` = another operator's, in water. Named: none | the viewer's
    // organisation is named (shared with) | the viewer is a named recipient. Cells are
    // CLEAR GREEN AMBER AMBER+STRICT RED; letters R read, C file, E edit, T triage, F forward.
    const REPORT_MATRIX: &str = "
    reporter       own | RCE RCE RCE RCE RCE | RCE RCE RCE RCE RCE | RCE RCE RCE RCE RCE
    reporter       in  | R   R   -   -   -   | R   R   R   -   -   | R   R   -   -   R
    reporter       out | R   R   -   -   -   | R   R   R   -   -   | R   R   -   -   R
    operator_admin own | RCE RCE RCE RCE RCE | RCE RCE RCE RCE RCE | RCE RCE RCE RCE RCE
    operator_admin in  | R   R   -   -   -   | R   R   R   -   -   | R   R   -   -   R
    operator_admin out | R   R   -   -   -   | R   R   R   -   -   | R   R   -   -   R
    ministry       own | RF  RF  R   -   -   | RF  RF  R   -   -   | RF  RF  R   -   R
    ministry       in  | RF  RF  R   -   -   | RF  RF  R   -   -   | RF  RF  R   -   R
    ministry       out | RF  RF  -   -   -   | RF  RF  R   -   -   | RF  RF  -   -   R
    analyst        own | RETF RETF RET RET - | RETF RETF RET RET - | RETF RETF RET RET RET
    analyst        in  | RETF RETF RET RET - | RETF RETF RET RET - | RETF RETF RET RET RET
    analyst        out | RETF RETF RET RET - | RETF RETF RET RET - | RETF RETF RET RET RET
    editor         own | RETF RETF RET RET - | RETF RETF RET RET - | RETF RETF RET RET RET
    editor         in  | RETF RETF RET RET - | RETF RETF RET RET - | RETF RETF RET RET RET
    editor         out | RETF RETF RET RET - | RETF RETF RET RET - | RETF RETF RET RET RET
    admin          own | R   R   R   R   -   | R   R   R   R   -   | R   R   R   R   R
    admin          in  | R   R   R   R   -   | R   R   R   R   -   | R   R   R   R   R
    admin          out | R   R   R   R   -   | R   R   R   R   -   | R   R   R   R   R
    ";

    #[test]
    fn report_matrix_every_role_relation_label_and_naming() {
        let railway = code("railway");
        let water = code("water");
        let mut rows = 0;
        for line in REPORT_MATRIX.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.split('|');
            let head: Vec<&str> = parts.next().unwrap().split_whitespace().collect();
            let role = Role::parse(head[0]).unwrap();
            let viewer = member(role);
            let Viewer::Member(m) = &viewer else {
                unreachable!()
            };
            let (org, sector) = match head[1] {
                "own" => (m.org_id, &railway),
                "in" => (O2, &railway),
                "out" => (O3, &water),
                other => panic!("bad relation {other}"),
            };
            let named: [(&[OrgId], &[UserId]); 3] = [
                (&[], &[]),
                (&[ELSEWHERE, m.org_id], &[SOMEONE]),
                (&[ELSEWHERE], &[SOMEONE, ME]),
            ];
            for (group, (orgs, users)) in parts.zip(named) {
                let cells: Vec<&str> = group.split_whitespace().collect();
                assert_eq!(cells.len(), 5, "{line}");
                for (tlp, want) in Tlp::ALL.into_iter().zip(cells) {
                    // Publication is for the public only; members must see no difference.
                    for published in [false, true] {
                        let r = ReportRef {
                            org_id: org,
                            sector,
                            tlp,
                            shared_with: orgs,
                            recipients: users,
                            published,
                        };
                        assert_eq!(
                            allowed(&viewer, &Resource::Report(r)),
                            want,
                            "{} {} {tlp} named {:?}/{:?} published {published}",
                            head[0],
                            head[1],
                            orgs,
                            users
                        );
                    }
                }
            }
            rows += 1;
        }
        assert_eq!(rows, Role::ALL.len() * 3);
    }

    #[test]
    fn the_public_reads_only_published_clear_reports() {
        let sector = code("railway");
        for tlp in Tlp::ALL {
            for published in [false, true] {
                let r = ReportRef {
                    org_id: O1,
                    sector: &sector,
                    tlp,
                    shared_with: &[O1, O2],
                    recipients: &[ME],
                    published,
                };
                let want = if tlp == Tlp::Clear && published {
                    "R"
                } else {
                    "-"
                };
                assert_eq!(
                    allowed(&Viewer::Public, &Resource::Report(r)),
                    want,
                    "{tlp}"
                );
            }
        }
    }

    // Other resources. Columns: case draft (source O1) | case awaiting O1's sign-off | case
    // awaiting O2's sign-off | case O1 has approved, not yet published | published case
    // (source O1, with the awaiting flag wrongly left set) | survey draft | published survey |
    // audit log | the viewer's own organisation's settings (O1 for the public) | another
    // organisation's settings | system.
    const OTHER_MATRIX: &str = "
    public         | -    -    -    -    R    -    R    -  -  -  -
    reporter       | -    RA   -    R    R    -    R    -  -  -  -
    operator_admin | -    RA   -    R    R    -    R    -  RM -  -
    ministry       | -    -    -    -    R    -    R    -  -  -  -
    analyst        | RCE  RCE  RCE  RCE  RCE  RCE  RCE  -  -  -  -
    editor         | RCEP RCEP RCEP RCEP RCEP RCEP RCEP -  -  -  -
    admin          | R    R    R    R    R    R    R    R  RM RM RM
    ";

    #[test]
    fn other_resources_matrix() {
        for line in OTHER_MATRIX.lines().filter(|l| !l.trim().is_empty()) {
            let (who, cells) = line.split_once('|').unwrap();
            let who = who.trim();
            let viewer = if who == "public" {
                Viewer::Public
            } else {
                member(Role::parse(who).unwrap())
            };
            let own = match &viewer {
                Viewer::Public => O1,
                Viewer::Member(m) => m.org_id,
            };
            let case = |source, shown, awaiting, published| {
                Resource::Case(CaseRef {
                    source_org: Some(source),
                    shown_to_source: shown,
                    awaiting_source: awaiting,
                    published,
                })
            };
            let resources = [
                case(O1, false, false, false),
                case(O1, true, true, false),
                case(O2, true, true, false),
                case(O1, true, false, false),
                case(O1, true, true, true),
                Resource::Survey { published: false },
                Resource::Survey { published: true },
                Resource::AuditLog,
                Resource::Organisation(own),
                Resource::Organisation(ELSEWHERE),
                Resource::System,
            ];
            let cells: Vec<&str> = cells.split_whitespace().collect();
            assert_eq!(cells.len(), resources.len(), "{line}");
            for (res, want) in resources.iter().zip(cells) {
                assert_eq!(allowed(&viewer, res), want, "{who} {res:?}");
            }
        }
    }

    #[test]
    fn contacts_are_read_by_the_org_the_centre_and_its_ministry_only() {
        let water = [code("water")];
        let member = |role: Role, org: OrgId, kind: OrgKind, oversees: &[&str]| {
            Viewer::Member(Member {
                user_id: UserId(9),
                role,
                org_id: org,
                org_kind: kind,
                oversees: oversees.iter().map(|s| code(s)).collect(),
            })
        };
        let own = member(Role::Reporter, O1, OrgKind::Operator, &[]);
        let peer = member(Role::OperatorAdmin, ELSEWHERE, OrgKind::Operator, &[]);
        let ministry = member(Role::Ministry, MIN, OrgKind::Ministry, &["water"]);
        let other_ministry = member(Role::Ministry, MIN, OrgKind::Ministry, &["finance"]);
        let centre = member(Role::Analyst, CEN, OrgKind::Centre, &[]);
        assert!(reads_contacts(&own, O1, &water));
        assert!(reads_contacts(&ministry, O1, &water));
        assert!(reads_contacts(&centre, O1, &water));
        assert!(!reads_contacts(&peer, O1, &water));
        assert!(!reads_contacts(&other_ministry, O1, &water));
        assert!(!reads_contacts(&Viewer::Public, O1, &water));
    }

    #[test]
    fn a_role_outside_its_kind_of_organisation_gets_nothing() {
        let sector = code("railway");
        let wrong = [
            (Role::Reporter, OrgKind::Centre),
            (Role::OperatorAdmin, OrgKind::Vendor),
            (Role::Ministry, OrgKind::Operator),
            (Role::Analyst, OrgKind::Operator),
            (Role::Editor, OrgKind::Ministry),
            (Role::Admin, OrgKind::Operator),
        ];
        for (role, org_kind) in wrong {
            let v = Viewer::Member(Member {
                user_id: ME,
                role,
                org_id: O1,
                org_kind,
                oversees: vec![code("railway")],
            });
            for tlp in Tlp::ALL {
                let r = ReportRef {
                    org_id: O1,
                    sector: &sector,
                    tlp,
                    shared_with: &[O1],
                    recipients: &[ME],
                    published: true,
                };
                assert_eq!(allowed(&v, &Resource::Report(r)), "-", "{role} {tlp}");
            }
            for res in [
                Resource::Case(CaseRef {
                    source_org: Some(O1),
                    shown_to_source: true,
                    awaiting_source: true,
                    published: true,
                }),
                Resource::Survey { published: true },
                Resource::AuditLog,
                Resource::Organisation(O1),
                Resource::System,
            ] {
                assert_eq!(allowed(&v, &res), "-", "{role} {res:?}");
            }
            assert!(report_visibility(&v).is_nothing());
        }
    }

    #[test]
    fn a_ministry_overseeing_nothing_sees_only_the_community_and_what_names_it() {
        let v = Viewer::Member(Member {
            user_id: ME,
            role: Role::Ministry,
            org_id: MIN,
            org_kind: OrgKind::Ministry,
            oversees: vec![],
        });
        let s = code("railway");
        let r = |tlp, orgs: &'static [OrgId]| ReportRef {
            org_id: O1,
            sector: &s,
            tlp,
            shared_with: orgs,
            recipients: &[],
            published: false,
        };
        assert!(can_read_report(&v, &r(Tlp::Green, &[])));
        assert!(!can_read_report(&v, &r(Tlp::Amber, &[])));
        assert!(can_read_report(&v, &r(Tlp::Amber, &[MIN])));
        assert!(!can_read_report(&v, &r(Tlp::AmberStrict, &[MIN])));
    }

    fn all_viewers() -> Vec<Viewer> {
        let mut v: Vec<Viewer> = Role::ALL.into_iter().map(member).collect();
        v.push(Viewer::Public);
        v.push(Viewer::Member(Member {
            user_id: ME,
            role: Role::Analyst,
            org_id: O1,
            org_kind: OrgKind::Operator,
            oversees: vec![],
        }));
        v.push(Viewer::Member(Member {
            user_id: ME,
            role: Role::Ministry,
            org_id: MIN,
            org_kind: OrgKind::Ministry,
            oversees: vec![],
        }));
        v
    }

    #[test]
    fn the_list_filter_agrees_with_decide_on_every_report() {
        let sectors = [code("railway"), code("water"), code("finance")];
        let org_lists: [&[OrgId]; 4] = [&[], &[O1], &[MIN, O2], &[CEN]];
        let user_lists: [&[UserId]; 3] = [&[], &[ME], &[SOMEONE]];
        let mut checked = 0;
        for v in all_viewers() {
            let vis = report_visibility(&v);
            for org_id in [O1, O2, O3, MIN, CEN] {
                for sector in &sectors {
                    for tlp in Tlp::ALL {
                        for shared_with in org_lists {
                            for recipients in user_lists {
                                for published in [false, true] {
                                    let r = ReportRef {
                                        org_id,
                                        sector,
                                        tlp,
                                        shared_with,
                                        recipients,
                                        published,
                                    };
                                    assert_eq!(
                                        vis.matches(&r),
                                        can_read_report(&v, &r),
                                        "{v:?} {r:?}"
                                    );
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 9 * 5 * 3 * 5 * 4 * 3 * 2);
    }

    #[test]
    fn filter_clauses_never_leave_labels_open() {
        for v in all_viewers() {
            for c in report_visibility(&v).clauses {
                assert!(!c.labels.is_empty(), "{v:?}");
            }
        }
    }

    #[test]
    fn granting_roles() {
        let op_admin = member(Role::OperatorAdmin);
        assert!(may_grant(&op_admin, O1, OrgKind::Operator, Role::Reporter).is_allowed());
        assert!(may_grant(&op_admin, O1, OrgKind::Operator, Role::OperatorAdmin).is_allowed());
        for role in [Role::Ministry, Role::Analyst, Role::Editor, Role::Admin] {
            assert_eq!(
                may_grant(&op_admin, O1, OrgKind::Operator, role),
                Decision::Deny,
                "{role}"
            );
        }
        assert_eq!(
            may_grant(&op_admin, O2, OrgKind::Operator, Role::Reporter),
            Decision::Deny
        );
        let admin = member(Role::Admin);
        assert!(may_grant(&admin, CEN, OrgKind::Centre, Role::Analyst).is_allowed());
        assert!(may_grant(&admin, MIN, OrgKind::Ministry, Role::Ministry).is_allowed());
        assert!(may_grant(&admin, O2, OrgKind::Operator, Role::OperatorAdmin).is_allowed());
        assert_eq!(
            may_grant(&admin, O2, OrgKind::Operator, Role::Analyst),
            Decision::Deny
        );
        assert_eq!(
            may_grant(&admin, O2, OrgKind::Vendor, Role::Reporter),
            Decision::Deny
        );
        for role in [Role::Reporter, Role::Ministry, Role::Analyst, Role::Editor] {
            assert_eq!(
                may_grant(&member(role), O1, OrgKind::Operator, Role::Reporter),
                Decision::Deny,
                "{role}"
            );
        }
        assert_eq!(
            may_grant(&Viewer::Public, O1, OrgKind::Operator, Role::Reporter),
            Decision::Deny
        );
    }

    #[test]
    fn member_from_records() {
        use crate::org::NewOrganisation;
        use crate::taxonomy::Lang;
        use crate::user::{Email, NewUser};
        let org = Organisation {
            id: MIN,
            version: 1,
            active: true,
            org: NewOrganisation {
                key: "min".into(),
                name: "省".into(),
                kind: OrgKind::Ministry,
                sectors: vec![code("railway")],
                region: None,
            },
        };
        let mut user = User {
            id: ME,
            version: 1,
            user: NewUser {
                org_id: MIN,
                email: Email::parse("a@example.jp").unwrap(),
                display_name: "A".into(),
                role: Role::Ministry,
                lang: Lang::Ja,
            },
            active: true,
        };
        let m = Member::new(&user, &org).unwrap();
        assert_eq!(m.oversees, vec![code("railway")]);
        assert!(m.is_consistent());
        let mut op = org.clone();
        op.org.kind = OrgKind::Operator;
        assert!(Member::new(&user, &op).unwrap().oversees.is_empty());
        user.user.org_id = O1;
        assert!(Member::new(&user, &org).is_none());
        user.user.org_id = MIN;
        user.active = false;
        assert!(Member::new(&user, &org).is_none());
    }
}
