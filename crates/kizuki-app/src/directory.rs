//! An organisation's own administration in the web: its users, added with a one-time password
//! shown once, disabled and enabled. An operator admin manages its own organisation, the
//! system administrator any; for anyone else another organisation's users do not exist. The
//! same rules as the command line: `accounts::add_user` decides which roles may be granted.

use crate::App;
use crate::accounts;
use crate::auth::{self, Principal};
use crate::error::{AppError, AppResult};
use kizuki_domain::access::{Action, Resource};
use kizuki_domain::ids::{OrgId, UserId};
use kizuki_domain::user::{Role, User};
use kizuki_store::StoreError;
use serde::Serialize;

/// One account as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

/// An organisation's users, with what the viewer may grant there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgUsers {
    pub org_id: OrgId,
    pub org_name: String,
    pub users: Vec<UserRow>,
    /// The roles the viewer may give in this organisation.
    pub grantable: Vec<Role>,
    /// Every organisation, for a viewer who manages them all (the system administrator).
    pub orgs: Vec<(OrgId, String)>,
}

/// The coordinating centre's organisation: the publisher of the reports and the home of the
/// service's own accounts. `None` in a directory that has none yet.
pub async fn centre_org(app: &App) -> AppResult<Option<kizuki_domain::org::Organisation>> {
    Ok(app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .find(|o| o.org.kind == kizuki_domain::org::OrgKind::Centre))
}

/// Refuses unless `p` manages organisation `org`, as "not found".
pub async fn require_manage(app: &App, p: &Principal, org: OrgId) -> AppResult<()> {
    if auth::decide(app, p, Action::Manage, &Resource::Organisation(org))
        .await?
        .is_allowed()
    {
        Ok(())
    } else {
        Err(StoreError::not_found("organisation", org).into())
    }
}

/// The users of `org` (the principal's own when `None`).
pub async fn users(app: &App, p: &Principal, org: Option<OrgId>) -> AppResult<OrgUsers> {
    let org_id = org.unwrap_or(p.org_id);
    require_manage(app, p, org_id).await?;
    let org = app.store.get_org(org_id).await?;
    let viewer = auth::viewer(app, p).await?;
    let grantable = Role::ALL
        .into_iter()
        .filter(|r| {
            kizuki_domain::access::may_grant(&viewer, org.id, org.org.kind, *r).is_allowed()
        })
        .collect();
    let mut users: Vec<UserRow> = app
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.user.org_id == org_id)
        .map(|u| UserRow {
            id: u.id,
            email: u.user.email.as_str().to_owned(),
            name: u.user.display_name.clone(),
            role: u.user.role,
            active: u.active,
        })
        .collect();
    users.sort_by(|a, b| a.email.cmp(&b.email));
    let orgs = managed_orgs(app, p).await?;
    Ok(OrgUsers {
        org_id,
        org_name: org.org.name,
        users,
        grantable,
        orgs,
    })
}

/// Every organisation, for a viewer who manages them all (the system administrator); empty
/// for anyone else.
async fn managed_orgs(app: &App, p: &Principal) -> AppResult<Vec<(OrgId, String)>> {
    if auth::decide(app, p, Action::Manage, &Resource::System)
        .await?
        .is_allowed()
    {
        crate::reports::org_names(app).await
    } else {
        Ok(Vec::new())
    }
}

/// Adds an account to `org` with a one-time password, returned once.
pub async fn add(
    app: &App,
    p: &Principal,
    org: OrgId,
    email: &str,
    role: &str,
    name: &str,
) -> AppResult<(User, String)> {
    require_manage(app, p, org).await?;
    let role = accounts::parse_role(role)?;
    let org = app.store.get_org(org).await?;
    let viewer = auth::viewer(app, p).await?;
    accounts::add_user(app, Some((p, &viewer)), &org, email, role, Some(name)).await
}

/// Enables or disables an account of an organisation the principal manages; one's own
/// account cannot be disabled (the last admin would lock themselves out).
pub async fn set_active(app: &App, p: &Principal, id: UserId, active: bool) -> AppResult<User> {
    let user = match app.store.get_user(id).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => return Err(StoreError::not_found("user", id).into()),
        Err(e) => return Err(e.into()),
    };
    require_manage(app, p, user.user.org_id).await?;
    if !active && id == p.user_id {
        return Err(AppError::Refused(
            "自分のアカウントは無効にできません / you cannot disable your own account".into(),
        ));
    }
    let actor = crate::security::audit::actor_user(p.user_id);
    Ok(accounts::set_active(app, user, active, actor).await?.0)
}

/// Gives an account of an organisation the principal manages another role; one's own role
/// is not changed here (an admin would demote themselves out of the page).
pub async fn set_role(app: &App, p: &Principal, id: UserId, role: &str) -> AppResult<User> {
    let user = managed_user(app, p, id).await?;
    if id == p.user_id {
        return Err(AppError::Refused(
            "自分の役割は変更できません / you cannot change your own role".into(),
        ));
    }
    let role = accounts::parse_role(role)?;
    let viewer = auth::viewer(app, p).await?;
    accounts::set_role(
        app,
        Some((p, &viewer)),
        &user,
        role,
        crate::security::audit::actor_user(p.user_id),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_operator_admin_manages_its_own_organisation_only() {
        let (app, _t) = crate::test_support::demo(51).await;
        let admin = crate::test_support::principal(&app, "admin@railway.example.jp").await;
        let reporter = crate::test_support::operator_principal(&app).await;
        let own = users(&app, &admin, None).await.unwrap();
        assert!(
            own.users
                .iter()
                .any(|u| u.email == "reporter@railway.example.jp")
        );
        assert_eq!(own.grantable, vec![Role::Reporter, Role::OperatorAdmin]);
        assert!(own.orgs.is_empty());
        let finance = app.store.org_by_key("demo-finance").await.unwrap().unwrap();
        assert!(matches!(
            users(&app, &admin, Some(finance.id)).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
        assert!(matches!(
            users(&app, &reporter, None).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
        // A centre role cannot be granted in an operator.
        assert!(matches!(
            add(
                &app,
                &admin,
                admin.org_id,
                "x@railway.example.jp",
                "analyst",
                "X"
            )
            .await,
            Err(AppError::Forbidden(_) | AppError::Validation(_))
        ));
        let (u, pw) = add(
            &app,
            &admin,
            admin.org_id,
            "new@railway.example.jp",
            "reporter",
            "新人",
        )
        .await
        .unwrap();
        assert!(!pw.is_empty());
        assert!(
            crate::accounts::must_change_password(&app, u.id)
                .await
                .unwrap()
        );
        // Another organisation's account is not there; one's own cannot be disabled.
        let fin_reporter =
            crate::test_support::principal(&app, "reporter@finance.example.jp").await;
        assert!(matches!(
            set_active(&app, &admin, fin_reporter.user_id, false).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
        assert!(matches!(
            set_active(&app, &admin, admin.user_id, false).await,
            Err(AppError::Refused(_))
        ));
        let off = set_active(&app, &admin, u.id, false).await.unwrap();
        assert!(!off.active);
        let log = crate::security::audit_log::all_entries(&app).await.unwrap();
        let by_admin = crate::security::audit::actor_user(admin.user_id);
        let ops: Vec<&str> = log
            .iter()
            .filter(|e| e.actor == by_admin && e.target == "user:new@railway.example.jp")
            .map(|e| e.detail.as_str())
            .collect();
        assert_eq!(ops.len(), 2, "{ops:?}");
    }
}

/// An organisation's sign-in allowlist as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowlistView {
    pub org_id: OrgId,
    pub org_name: String,
    /// The networks let in; empty means no restriction.
    pub entries: Vec<String>,
    /// The viewer's own address, and whether the list lets it in (an empty list does).
    pub your_address: String,
    pub lets_you_in: bool,
    /// Every organisation, for a viewer who manages them all.
    pub orgs: Vec<(OrgId, String)>,
}

/// The allowlist of `org` (the principal's own when `None`), seen from address `from`.
pub async fn allowlist(
    app: &App,
    p: &Principal,
    org: Option<OrgId>,
    from: std::net::IpAddr,
) -> AppResult<AllowlistView> {
    let org_id = org.unwrap_or(p.org_id);
    require_manage(app, p, org_id).await?;
    let org = app.store.get_org(org_id).await?;
    let (_, list) = accounts::allowlist(app, &org).await?;
    let orgs = managed_orgs(app, p).await?;
    Ok(AllowlistView {
        org_id,
        org_name: org.org.name.clone(),
        entries: list.entries().iter().map(ToString::to_string).collect(),
        your_address: from.to_string(),
        lets_you_in: list.entries().is_empty() || list.permits(from),
        orgs,
    })
}

/// Adds (`add`) or removes a network on `org`'s allowlist from a page. Changing one's own
/// organisation's list is refused when it would shut out `from`, the address asking.
pub async fn edit_allowlist(
    app: &App,
    p: &Principal,
    org: OrgId,
    cidr: &str,
    add: bool,
    from: std::net::IpAddr,
) -> AppResult<()> {
    require_manage(app, p, org).await?;
    let o = app.store.get_org(org).await?;
    let keep = (org == p.org_id).then_some(from);
    accounts::edit_allowlist(
        app,
        &o,
        cidr,
        add,
        accounts::Editor::User {
            id: p.user_id,
            keep,
        },
    )
    .await?;
    Ok(())
}

/// An API token of one of an organisation's users, as its administration page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: UserId,
    pub email: String,
    pub label: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An organisation's users' API tokens (never their secrets), and who may be given one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgTokens {
    pub org_id: OrgId,
    pub org_name: String,
    pub tokens: Vec<TokenRow>,
    /// Active users a token may be issued to.
    pub users: Vec<UserRow>,
    pub orgs: Vec<(OrgId, String)>,
}

/// The API tokens of `org`'s users (the principal's own organisation when `None`), newest
/// first.
pub async fn tokens(app: &App, p: &Principal, org: Option<OrgId>) -> AppResult<OrgTokens> {
    let v = users(app, p, org).await?;
    let mut tokens = Vec::new();
    for u in &v.users {
        for t in app.store.list_tokens(u.id).await? {
            tokens.push(TokenRow {
                id: t.id,
                user_id: u.id,
                email: u.email.clone(),
                label: t.label,
                created_at: t.created_at,
                revoked_at: t.revoked_at,
            });
        }
    }
    tokens.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
    Ok(OrgTokens {
        org_id: v.org_id,
        org_name: v.org_name,
        tokens,
        users: v.users.into_iter().filter(|u| u.active).collect(),
        orgs: v.orgs,
    })
}

/// The user `id`, if `p` manages its organisation; otherwise "not found".
async fn managed_user(app: &App, p: &Principal, id: UserId) -> AppResult<User> {
    let u = match app.store.get_user(id).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => return Err(StoreError::not_found("user", id).into()),
        Err(e) => return Err(e.into()),
    };
    require_manage(app, p, u.user.org_id)
        .await
        .map_err(|_| AppError::from(StoreError::not_found("user", id)))?;
    Ok(u)
}

/// Refuses, as "not found", a user `p` does not manage; callers with a body to parse decide
/// with this first.
pub async fn require_user(app: &App, p: &Principal, id: UserId) -> AppResult<()> {
    managed_user(app, p, id).await.map(|_| ())
}

/// Like [`require_user`], and the user must belong to `org` (a token is issued through the
/// organisation's own address).
pub async fn require_user_in(app: &App, p: &Principal, id: UserId, org: OrgId) -> AppResult<()> {
    let u = managed_user(app, p, id).await?;
    if u.user.org_id == org {
        Ok(())
    } else {
        Err(StoreError::not_found("user", id).into())
    }
}

/// Issues a token to user `id` of an organisation `p` manages; the secret is returned once.
/// Audited with `p` as the actor.
pub async fn issue_token(
    app: &App,
    p: &Principal,
    id: UserId,
    label: &str,
) -> AppResult<(kizuki_store::ApiToken, String)> {
    let u = managed_user(app, p, id).await?;
    crate::security::tokens::issue(
        app,
        &u,
        label,
        crate::security::audit::actor_user(p.user_id),
    )
    .await
}

/// Revokes token `id` of a user of an organisation `p` manages; any other is "not found".
pub async fn revoke_token(app: &App, p: &Principal, id: i64) -> AppResult<kizuki_store::ApiToken> {
    for u in app.store.list_users().await? {
        if !app
            .store
            .list_tokens(u.id)
            .await?
            .iter()
            .any(|t| t.id == id)
        {
            continue;
        }
        managed_user(app, p, u.id)
            .await
            .map_err(|_| AppError::from(StoreError::not_found("token", id)))?;
        return crate::security::tokens::revoke_as(
            app,
            id,
            crate::security::audit::actor_user(p.user_id),
        )
        .await;
    }
    Err(StoreError::not_found("token", id).into())
}

/// An organisation as the centre's admin page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgRow {
    pub id: OrgId,
    pub key: String,
    pub name: String,
    pub kind: kizuki_domain::org::OrgKind,
    pub sectors: Vec<String>,
    pub region: Option<String>,
    /// Active accounts.
    pub users: usize,
    pub active: bool,
}

/// Refuses anyone but the system administrator, as "not found".
pub async fn require_system(app: &App, p: &Principal) -> AppResult<()> {
    if auth::decide(app, p, Action::Manage, &Resource::System)
        .await?
        .is_allowed()
    {
        Ok(())
    } else {
        Err(StoreError::not_found("page", "admin").into())
    }
}

/// Every organisation in the directory (the system administrator), by key.
pub async fn organisations(app: &App, p: &Principal) -> AppResult<Vec<OrgRow>> {
    require_system(app, p).await?;
    let users = app.store.list_users().await?;
    let mut out: Vec<OrgRow> = app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| OrgRow {
            users: users
                .iter()
                .filter(|u| u.active && u.user.org_id == o.id)
                .count(),
            id: o.id,
            key: o.org.key,
            name: o.org.name,
            kind: o.org.kind,
            sectors: o.org.sectors.iter().map(|c| c.0.clone()).collect(),
            region: o.org.region.map(|c| c.0),
            active: o.active,
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Adds an organisation from the centre's admin page, with the same rules as `kizuki org add`;
/// audited with the administrator as the actor.
pub async fn add_org(
    app: &App,
    p: &Principal,
    req: &accounts::OrgRequest,
) -> AppResult<kizuki_domain::org::Organisation> {
    require_system(app, p).await?;
    accounts::add_org_as(app, req, crate::security::audit::actor_user(p.user_id)).await
}

/// Disables or enables an organisation from the centre's admin page (the system
/// administrator), with the same rules as `kizuki org disable`; the administrator's own
/// organisation cannot be disabled, so nobody locks the centre out from its own page.
pub async fn set_org_active(
    app: &App,
    p: &Principal,
    org: OrgId,
    active: bool,
) -> AppResult<(kizuki_domain::org::Organisation, usize)> {
    require_system(app, p).await?;
    if !active && org == p.org_id {
        return Err(AppError::Refused(
            "自分の組織は無効にできません / you cannot disable your own organisation".into(),
        ));
    }
    let o = app.store.get_org(org).await?;
    accounts::set_org_active(
        app,
        &o,
        active,
        crate::security::audit::actor_user(p.user_id),
    )
    .await
}

/// An organisation's points of contact as its page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactsView {
    pub org_id: OrgId,
    pub org_name: String,
    pub version: i64,
    pub contacts: Vec<kizuki_domain::org::Contact>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_by: Option<String>,
    /// Whether the viewer may change them (the organisation's admins, the system administrator).
    pub can_edit: bool,
}

/// Refuses, as "not found", anyone who may not read `org`'s contacts.
async fn readable_org(
    app: &App,
    p: &Principal,
    org: Option<OrgId>,
) -> AppResult<kizuki_domain::org::Organisation> {
    let id = org.unwrap_or(p.org_id);
    let o = match app.store.get_org(id).await {
        Ok(o) => o,
        Err(StoreError::NotFound { .. }) => {
            return Err(StoreError::not_found("organisation", id).into());
        }
        Err(e) => return Err(e.into()),
    };
    let v = auth::viewer(app, p).await?;
    if kizuki_domain::access::reads_contacts(&v, o.id, &o.org.sectors) {
        Ok(o)
    } else {
        Err(StoreError::not_found("organisation", id).into())
    }
}

/// The points of contact of `org` (the principal's own when `None`), for its members, the
/// centre and its ministry.
pub async fn contacts(app: &App, p: &Principal, org: Option<OrgId>) -> AppResult<ContactsView> {
    let o = readable_org(app, p, org).await?;
    let stored = app.store.org_contacts(o.id).await?;
    let can_edit = auth::decide(app, p, Action::Manage, &Resource::Organisation(o.id))
        .await?
        .is_allowed();
    let updated_by = match stored.updated_by {
        Some(u) => app
            .store
            .get_user(u)
            .await
            .ok()
            .map(|u| u.user.display_name),
        None => None,
    };
    Ok(ContactsView {
        org_id: o.id,
        org_name: o.org.name,
        version: stored.version,
        contacts: stored.contacts,
        updated_at: stored.updated_at,
        updated_by,
        can_edit,
    })
}

/// Replaces `org`'s points of contact if they are still at `expected_version` (a conflict
/// otherwise, with the version now stored). Rows are parsed whole and refused by field
/// (`contacts[2].email`); blank rows are skipped. Audited with before and after.
pub async fn save_contacts(
    app: &App,
    p: &Principal,
    org: OrgId,
    expected_version: i64,
    rows: &[kizuki_domain::org::ContactInput],
) -> AppResult<kizuki_store::OrgContacts> {
    require_manage(app, p, org).await?;
    let today = kizuki_domain::clock::jst_date(app.clock.now());
    let contacts = kizuki_domain::org::parse_contacts(rows, today)?;
    let before = app.store.org_contacts(org).await?;
    let saved = app
        .store
        .set_org_contacts(
            org,
            expected_version,
            &contacts,
            Some(p.user_id),
            app.clock.now(),
        )
        .await?;
    crate::security::audit_log::change(
        app,
        p.user_id,
        format!("org:{org}:contacts"),
        serde_json::json!(before.contacts),
        serde_json::json!(saved.contacts),
    )
    .await?;
    Ok(saved)
}

/// One organisation's entry in the contact book list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookRow {
    pub org_id: OrgId,
    pub name: String,
    pub kind: kizuki_domain::org::OrgKind,
    pub sectors: Vec<String>,
    pub contacts: usize,
    /// Contacts reachable around the clock.
    pub around_the_clock: usize,
    /// The oldest confirmation among its contacts: the one most in need of a check.
    pub oldest_confirmed: Option<chrono::NaiveDate>,
}

/// Every enabled organisation whose contacts the viewer may read, by name.
pub async fn contact_books(app: &App, p: &Principal) -> AppResult<Vec<BookRow>> {
    let v = auth::viewer(app, p).await?;
    let mut out = Vec::new();
    for o in app.store.list_orgs().await? {
        if !o.active || !kizuki_domain::access::reads_contacts(&v, o.id, &o.org.sectors) {
            continue;
        }
        let c = app.store.org_contacts(o.id).await?;
        out.push(BookRow {
            org_id: o.id,
            name: o.org.name,
            kind: o.org.kind,
            sectors: o.org.sectors.iter().map(|c| c.0.clone()).collect(),
            contacts: c.contacts.len(),
            around_the_clock: c
                .contacts
                .iter()
                .filter(|x| x.hours == kizuki_domain::org::Hours::AroundTheClock)
                .count(),
            oldest_confirmed: c.contacts.iter().map(|x| x.confirmed_on).min(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Changes an organisation's name, sectors and region from the centre's admin page (the system
/// administrator), with the rules of `kizuki org edit`.
pub async fn edit_org(
    app: &App,
    p: &Principal,
    org: OrgId,
    expected_version: i64,
    edit: &accounts::OrgEdit,
) -> AppResult<kizuki_domain::org::Organisation> {
    require_system(app, p).await?;
    let o = app.store.get_org(org).await?;
    accounts::edit_org(
        app,
        &o,
        expected_version,
        edit,
        crate::security::audit::actor_user(p.user_id),
    )
    .await
}

/// One organisation for the admin's edit form (the system administrator).
pub async fn organisation(
    app: &App,
    p: &Principal,
    org: OrgId,
) -> AppResult<kizuki_domain::org::Organisation> {
    require_system(app, p).await?;
    Ok(app.store.get_org(org).await?)
}
