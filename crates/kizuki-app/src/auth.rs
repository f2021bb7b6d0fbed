//! Who is asking and what they may see: password login, the signed-in principal, role checks
//! and the organisations whose reports a principal may read. Access is decided here, once,
//! for pages and API alike.

use crate::error::{AppError, AppResult};
use crate::{App, password};
use kizuki_domain::ids::{OrgId, UserId};
use kizuki_domain::org::OrgKind;
use kizuki_domain::report::Report;
use kizuki_domain::taxonomy::Lang;
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
        }
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

    /// Analysts triage, link and write cases; editors too, for their part of the work.
    pub fn require_analyst(&self) -> AppResult<()> {
        self.require(&[Role::Analyst, Role::Editor, Role::Admin])
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

/// Remembers the language the user chose.
pub async fn set_lang(app: &App, p: &Principal, lang: Lang) -> AppResult<Principal> {
    let u = app.store.set_user_lang(p.user_id, lang).await?;
    Ok(Principal::from_user(&u))
}

/// Which organisations' reports the principal may read: `None` means all (centre staff).
pub async fn visible_orgs(app: &App, p: &Principal) -> AppResult<Option<Vec<OrgId>>> {
    match p.role {
        Role::Analyst | Role::Editor | Role::Admin => Ok(None),
        Role::Reporter | Role::OperatorAdmin => Ok(Some(vec![p.org_id])),
        Role::Ministry => {
            let me = app.store.get_org(p.org_id).await?;
            let overseen = &me.org.sectors;
            Ok(Some(
                app.store
                    .list_orgs()
                    .await?
                    .into_iter()
                    .filter(|o| {
                        o.org.kind == OrgKind::Operator
                            && o.org.sectors.iter().any(|s| overseen.contains(s))
                    })
                    .map(|o| o.id)
                    .collect(),
            ))
        }
    }
}

/// Whether the principal may read this report. Callers turn `false` into "not found", so a
/// report's existence does not leak.
pub async fn can_read(app: &App, p: &Principal, r: &Report) -> AppResult<bool> {
    Ok(match visible_orgs(app, p).await? {
        None => true,
        Some(orgs) => orgs.contains(&r.org_id),
    })
}

/// Whether the principal may edit the report's details and add stages.
pub fn can_edit(p: &Principal, r: &Report) -> bool {
    p.is_centre() && p.role != Role::Admin || (p.is_operator() && p.org_id == r.org_id)
}
