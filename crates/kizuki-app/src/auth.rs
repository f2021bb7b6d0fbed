//! Who is asking and what they may see: password login, the signed-in principal, role checks
//! and the bridge to `kizuki_domain::access`, where every access decision is made (pages,
//! API, lists and exports alike).

use crate::error::{AppError, AppResult};
use crate::{App, security::password};
use kizuki_domain::access::{
    self, Action, CaseRef, Decision, Member, ReportRef, ReportVisibility, Resource, Viewer,
};
use kizuki_domain::case::Case;
use kizuki_domain::ids::{OrgId, UserId};
use kizuki_domain::org::{OrgKind, Organisation};
use kizuki_domain::report::Report;
use kizuki_domain::signoff::{SignOff, SignOffState};
use kizuki_domain::taxonomy::{Code, Lang};
use kizuki_domain::user::{Email, Role, User};
use kizuki_store::StoreError;

/// A signed-in user as the services see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    pub lang: Lang,
    pub display_name: String,
    pub email: String,
    /// The organisation, when it was read together with the user for this request; access
    /// decisions then need not read it again. `None` where only the user was read.
    pub org: Option<OrgFacts>,
}

/// What access decisions need to know of a principal's organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgFacts {
    pub kind: OrgKind,
    /// The sectors it oversees: a ministry's own, none for anyone else.
    pub oversees: Vec<Code>,
}

impl OrgFacts {
    pub fn of(org: &Organisation) -> OrgFacts {
        OrgFacts {
            kind: org.org.kind,
            oversees: if org.org.kind == OrgKind::Ministry {
                org.org.sectors.clone()
            } else {
                Vec::new()
            },
        }
    }
}

impl Principal {
    pub fn from_user(u: &User) -> Principal {
        Principal {
            user_id: u.id,
            org_id: u.user.org_id,
            role: u.user.role,
            lang: u.user.lang,
            display_name: u.user.display_name.clone(),
            email: u.user.email.as_str().to_owned(),
            org: None,
        }
    }

    /// The principal of `u`, carrying what was read of its organisation `org` alongside.
    pub fn with_org(u: &User, org: &Organisation) -> Principal {
        let mut p = Principal::from_user(u);
        if org.id == p.org_id {
            p.org = Some(OrgFacts::of(org));
        }
        p
    }

    /// Staff of an operator: they file reports for their own organisation.
    pub fn is_operator(&self) -> bool {
        matches!(self.role, Role::Reporter | Role::OperatorAdmin)
    }

    pub fn is_centre(&self) -> bool {
        self.role.is_centre()
    }

    /// Refuses unless the principal has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> AppResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "role {} may not do this",
                self.role.code()
            )))
        }
    }

    /// Analysts triage, link and write cases; editors too, for their part of the work. The
    /// system administrator reads but does not do content work (docs/SECURITY.md §3–4).
    pub fn require_analyst(&self) -> AppResult<()> {
        self.require(&[Role::Analyst, Role::Editor])
    }

    pub fn require_operator(&self) -> AppResult<()> {
        self.require(&[Role::Reporter, Role::OperatorAdmin])
    }
}

/// A well-formed argon2id hash of no password anyone knows, checked when the e-mail is
/// unknown so a failed login takes as long either way and does not reveal which accounts exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$R0u2Bg2x3iA9p7gHqdYMtdtZcGt4sLXS0zQ2sX3KqQo";

/// Checks an e-mail and password. Every failure is the same [`AppError::Unauthenticated`].
pub async fn login(app: &App, email: &str, pass: &str) -> AppResult<User> {
    let creds = match Email::parse(email) {
        Ok(email) => app.store.credentials(&email).await?,
        Err(_) => None,
    };
    let hash = creds
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |c| c.password_hash.clone());
    let pass = pass.to_owned();
    // argon2 takes tens of milliseconds of CPU; keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || password::verify(&pass, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    match creds {
        Some(c) if ok && c.user.active => Ok(c.user),
        _ => Err(AppError::Unauthenticated),
    }
}

/// The user behind a session, re-read so a disabled account or a changed role takes effect
/// at once.
pub async fn principal(app: &App, id: UserId) -> AppResult<Principal> {
    match app.store.get_user(id).await {
        Ok(u) if u.active => Ok(Principal::from_user(&u)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AppError::Unauthenticated),
        Err(e) => Err(e.into()),
    }
}

/// The language a signed-in user chose, for pages (an error page among them) that have no
/// principal at hand; `fallback` when the account cannot be read.
pub async fn lang_of(app: &App, id: UserId, fallback: Lang) -> Lang {
    app.store
        .get_user(id)
        .await
        .map_or(fallback, |u| u.user.lang)
}

/// The account of a login halfway through (password right, second factor to come). Unlike
/// [`principal`] it does not require the account to be active: the login's own checks do.
pub async fn pending_user(app: &App, id: UserId) -> AppResult<kizuki_domain::user::User> {
    Ok(app.store.get_user(id).await?)
}

/// Remembers the language the user chose.
pub async fn set_lang(app: &App, p: &Principal, lang: Lang) -> AppResult<Principal> {
    let u = app.store.set_user_lang(p.user_id, lang).await?;
    Ok(Principal::from_user(&u))
}

/// The principal as access control sees them. The organisation is re-read so a ministry's
/// overseen sectors and an organisation's kind take effect at once; a role that does not fit
/// its organisation's kind yields a member `access::decide` denies everything.
pub async fn viewer(app: &App, p: &Principal) -> AppResult<Viewer> {
    let org = match &p.org {
        Some(known) => known.clone(),
        None => OrgFacts::of(&app.store.get_org(p.org_id).await?),
    };
    Ok(Viewer::Member(Member {
        user_id: p.user_id,
        role: p.role,
        org_id: p.org_id,
        org_kind: org.kind,
        oversees: org.oversees,
    }))
}

/// The rule lists, search, counts and exports apply (the same as [`decide_report`]).
pub async fn visibility(app: &App, p: &Principal) -> AppResult<ReportVisibility> {
    Ok(access::report_visibility(&viewer(app, p).await?))
}

/// Decides `action` on a report, with its sharing lists from the store. Reports have no
/// publication flag yet, so none counts as published.
pub async fn decide_report(
    app: &App,
    p: &Principal,
    r: &Report,
    action: Action,
) -> AppResult<Decision> {
    let v = viewer(app, p).await?;
    decide_report_as(app, &v, r, action).await
}

/// [`decide_report`] for a viewer already built (lists of links, similar reports).
pub async fn decide_report_as(
    app: &App,
    v: &Viewer,
    r: &Report,
    action: Action,
) -> AppResult<Decision> {
    let sharing = app.store.report_sharing(r.id).await?;
    let rr = ReportRef::of(r).shared(&sharing.orgs, &sharing.users);
    Ok(access::decide(v, action, &Resource::Report(rr)))
}

/// Whether the principal may read this report. Callers turn `false` into "not found", so a
/// report's existence does not leak.
pub async fn can_read(app: &App, p: &Principal, r: &Report) -> AppResult<bool> {
    Ok(decide_report(app, p, r, Action::Read).await?.is_allowed())
}

/// Whether the principal may edit the report's details and add stages.
pub async fn can_edit(app: &App, p: &Principal, r: &Report) -> AppResult<bool> {
    Ok(decide_report(app, p, r, Action::Edit).await?.is_allowed())
}

/// Decides an action on something other than a report; a denial is for the caller to turn
/// into "not found" (one record) or "forbidden" (a page of its own).
pub async fn decide(
    app: &App,
    p: &Principal,
    action: Action,
    resource: &Resource<'_>,
) -> AppResult<Decision> {
    Ok(access::decide(&viewer(app, p).await?, action, resource))
}

/// What access control needs about a case: its source organisation (the owner of the report
/// it was written from) and where its sign-off stands. A history that does not replay counts
/// as a draft, so a damaged record shows less, never more.
pub async fn case_ref(app: &App, c: &Case) -> AppResult<CaseRef> {
    let source_org = match c.report_id {
        Some(r) => match app.store.get_report(r).await {
            Ok(r) => Some(r.org_id),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let state = SignOff::replay(app.store.signoff_history(c.id).await?)
        .map(|s| s.state())
        .unwrap_or(SignOffState::Draft);
    Ok(CaseRef {
        source_org,
        shown_to_source: !matches!(state, SignOffState::Draft),
        awaiting_source: state == SignOffState::SentToOperator,
        published: state == SignOffState::Published,
    })
}

/// Decides an action on a case for a viewer already built.
pub async fn decide_case_as(
    app: &App,
    v: &Viewer,
    c: &Case,
    action: Action,
) -> AppResult<Decision> {
    let cr = case_ref(app, c).await?;
    Ok(access::decide(v, action, &Resource::Case(cr)))
}

/// A survey counts as published once one of its cases is: the survey's results go out with
/// its published cases (surveys carry no flag of their own yet).
pub async fn survey_published(app: &App, fiscal_year: i32) -> AppResult<bool> {
    for c in app.store.list_cases(Some(fiscal_year)).await? {
        if case_ref(app, &c).await?.published {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Decides an action on a survey for a viewer already built.
pub async fn decide_survey_as(
    app: &App,
    v: &Viewer,
    fiscal_year: i32,
    action: Action,
) -> AppResult<Decision> {
    let published = survey_published(app, fiscal_year).await?;
    Ok(access::decide(v, action, &Resource::Survey { published }))
}

/// [`decide`], as "not found" when denied.
pub async fn require_found(
    app: &App,
    p: &Principal,
    action: Action,
    resource: &Resource<'_>,
    what: &'static str,
    id: impl ToString,
) -> AppResult<()> {
    if decide(app, p, action, resource).await?.is_allowed() {
        Ok(())
    } else {
        Err(StoreError::not_found(what, id).into())
    }
}
