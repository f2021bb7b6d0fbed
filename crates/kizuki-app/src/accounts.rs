//! Account management: organisations, users with one-time passwords they must
//! replace, disabling an account (logins, sessions and tokens stop at once), changing one's
//! own password under the policy, and per-organisation IP allowlists. The CLI and the web
//! pages both call these, so the rules (role fits the organisation's kind, password policy)
//! hold whichever way an account is touched; every change is written to the audit log.

use crate::error::{AppError, AppResult};
use crate::security::audit::{self, actions};
use crate::security::ip_allowlist::{Allowlist, Cidr};
use crate::security::password_policy::PasswordPolicy;
use crate::{App, auth::Principal, security::audit_log, security::password};
use kizuki_domain::access::{self, Member, Viewer};
use kizuki_domain::ids::{OrgId, UserId};
use kizuki_domain::org::{NewOrganisation, OrgKind, Organisation};
use kizuki_domain::taxonomy::{Code, Lang, Taxonomy, Vocabulary};
use kizuki_domain::user::{Email, NewUser, Role, User};
use kizuki_domain::{FieldError, ValidationErrors};
use kizuki_store::{OrgAllowlist, StoreError};
use serde_json::json;

/// Length of a one-time password: 16 characters from a 56-letter alphabet is about 93 bits.
pub const ONE_TIME_PASSWORD_CHARS: usize = 16;

/// Who the command line acts as: the system administrator of the centre. Whoever can run
/// `kizuki` against the database can do anything an admin can, so the CLI goes through the
/// same `access::may_grant` rule with that role rather than skipping it.
pub fn cli_viewer() -> Viewer {
    Viewer::Member(Member {
        user_id: UserId(0),
        role: Role::Admin,
        org_id: OrgId(0),
        org_kind: OrgKind::Centre,
        oversees: Vec::new(),
    })
}

/// The actor recorded in the audit log for the CLI and for a signed-in admin.
fn actor_of(granter: Option<&Principal>) -> String {
    granter.map_or_else(|| "cli".to_owned(), |p| audit::actor_user(p.user_id))
}

/// `kind`: operator, ministry, centre or vendor (also the Japanese names).
pub fn parse_kind(text: &str) -> Result<OrgKind, FieldError> {
    let t = text.trim();
    let by_ja = match t {
        "重要インフラ事業者" | "事業者" => Some(OrgKind::Operator),
        "所管省庁" | "省庁" => Some(OrgKind::Ministry),
        "センター" => Some(OrgKind::Centre),
        "ベンダ" | "ベンダー" | "システムベンダ" => Some(OrgKind::Vendor),
        _ => None,
    };
    by_ja
        .or_else(|| OrgKind::parse(&t.to_lowercase()))
        .or_else(|| (t.eq_ignore_ascii_case("center")).then_some(OrgKind::Centre))
        .ok_or_else(|| {
            FieldError::invalid(
                "kind",
                format!(
                    "「{t}」は組織の種類ではありません（operator, ministry, centre, vendor） / \
                     '{t}' is not an organisation kind (operator, ministry, centre, vendor)"
                ),
            )
        })
}

/// A sector given as its code (`electricity`), its Japanese label (`電力`) or its English
/// label, as the taxonomy has it.
pub fn parse_sector(tx: &Taxonomy, text: &str) -> Result<Code, FieldError> {
    let t = text.trim();
    tx.terms(Vocabulary::Sector)
        .iter()
        .find(|term| term.code == t || term.ja == t || term.en.eq_ignore_ascii_case(t))
        .map(|term| Code(term.code.clone()))
        .ok_or_else(|| {
            let known: Vec<String> = tx
                .terms(Vocabulary::Sector)
                .iter()
                .map(|term| format!("{}({})", term.ja, term.code))
                .collect();
            FieldError::invalid(
                "sector",
                format!(
                    "「{t}」は分野ではありません / '{t}' is not a sector; one of: {}",
                    known.join(", ")
                ),
            )
        })
}

/// A stable directory key from the name: its ASCII letters and digits, lower-cased and
/// joined by '-'; empty when the name has none (a Japanese name), and the caller numbers it.
fn key_from_name(name: &str) -> String {
    let mut key = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('-') && !key.is_empty() {
            key.push('-');
        }
    }
    let key: String = key.trim_end_matches('-').chars().take(40).collect();
    key.trim_end_matches('-').to_owned()
}

/// What `kizuki org add` asks for.
#[derive(Debug, Clone, Default)]
pub struct OrgRequest {
    pub name: String,
    pub kind: String,
    /// Codes or labels; an operator has exactly one, a ministry lists those it oversees.
    pub sectors: Vec<String>,
    /// The directory key; made from the name when not given.
    pub key: Option<String>,
    pub region: Option<String>,
}

/// The sectors as codes, each read once; the count must fit the kind (an operator one, a
/// ministry at least one, the centre none). Problems go to `errs` under `sector`.
fn check_sectors(
    app: &App,
    kind: Option<OrgKind>,
    raw: &[String],
    errs: &mut ValidationErrors,
) -> Vec<Code> {
    let mut sectors = Vec::new();
    for s in raw {
        match parse_sector(&app.taxonomy, s) {
            Ok(c) if !sectors.contains(&c) => sectors.push(c),
            Ok(_) => {}
            Err(e) => errs.push(e),
        }
    }
    if kind == Some(OrgKind::Centre) && !sectors.is_empty() {
        errs.push(FieldError::invalid(
            "sector",
            "センターには分野を指定しません / the centre has no sector",
        ));
    }
    if kind == Some(OrgKind::Operator) && raw.len() != 1 {
        errs.push(FieldError::invalid(
            "sector",
            "事業者の分野を1つ指定してください（例: --sector 電力） / an operator belongs to exactly \
             one sector (e.g. --sector 電力)",
        ));
    }
    if kind == Some(OrgKind::Ministry) && raw.is_empty() {
        errs.push(FieldError::invalid(
            "sector",
            "所管する分野を1つ以上指定してください / a ministry oversees at least one sector \
             (repeat --sector)",
        ));
    }
    sectors
}

/// A region as typed: blank is none; the taxonomy checks the code when the record is parsed.
fn region_code(text: Option<&str>) -> Option<Code> {
    text.map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| Code(r.to_owned()))
}

/// What `kizuki org edit` and the admin page change: the name, the sectors and the region
/// (the key and the kind stay: other records and the commands find the organisation by them).
#[derive(Debug, Clone, Default)]
pub struct OrgEdit {
    pub name: String,
    pub sectors: Vec<String>,
    pub region: Option<String>,
}

/// Changes an organisation's name, sectors and region under the rules of [`add_org`], if it is
/// still at `expected_version` (a conflict with the organisation as it is now otherwise);
/// audited under `actor` with before and after.
pub async fn edit_org(
    app: &App,
    org: &Organisation,
    expected_version: i64,
    edit: &OrgEdit,
    actor: String,
) -> AppResult<Organisation> {
    let mut errs = ValidationErrors::default();
    let sectors = check_sectors(app, Some(org.org.kind), &edit.sectors, &mut errs);
    let name = edit.name.trim().to_owned();
    if app
        .store
        .list_orgs()
        .await?
        .iter()
        .any(|o| o.id != org.id && o.org.name == name)
    {
        errs.push(FieldError::invalid(
            "name",
            format!("組織「{name}」は既にあります / an organisation named '{name}' exists"),
        ));
    }
    if !errs.is_empty() {
        return Err(errs.into());
    }
    let region = region_code(edit.region.as_deref());
    let new = NewOrganisation {
        key: org.org.key.clone(),
        name,
        kind: org.org.kind,
        sectors,
        region,
    }
    .parse(&app.taxonomy)?;
    let saved = app.store.update_org(org.id, expected_version, new).await?;
    audit_log::note(
        app,
        actor,
        actions::ADMIN,
        format!("org:{}", org.id),
        &json!({"op": "org.edit", "before": org.org, "after": saved.org}),
    )
    .await?;
    Ok(saved)
}

/// Adds an organisation. The name must be new (commands find organisations by it).
pub async fn add_org(app: &App, req: &OrgRequest) -> AppResult<Organisation> {
    add_org_as(app, req, "cli".to_owned()).await
}

/// [`add_org`] audited under `actor` (a user on the centre's admin page).
pub(crate) async fn add_org_as(
    app: &App,
    req: &OrgRequest,
    actor: String,
) -> AppResult<Organisation> {
    let mut errs = ValidationErrors::default();
    let kind = parse_kind(&req.kind).map_err(|e| errs.push(e)).ok();
    let sectors = check_sectors(app, kind, &req.sectors, &mut errs);
    let region = region_code(req.region.as_deref());
    let orgs = app.store.list_orgs().await?;
    let name = req.name.trim().to_owned();
    if orgs.iter().any(|o| o.org.name == name) {
        errs.push(FieldError::invalid(
            "name",
            format!("組織「{name}」は既にあります / an organisation named '{name}' exists"),
        ));
    }
    let Some(kind) = kind else {
        return Err(errs.into());
    };
    if !errs.is_empty() {
        return Err(errs.into());
    }
    let key = match &req.key {
        Some(k) => k.trim().to_owned(),
        None => {
            let base = key_from_name(&name);
            let base = if base.is_empty() {
                kind.code().to_owned()
            } else {
                base
            };
            // Numbered when taken (or when the name gave nothing): operator-2, operator-3, …
            let taken = |k: &str| orgs.iter().any(|o| o.org.key == k);
            if !taken(&base) && base != kind.code() {
                base
            } else {
                (2..)
                    .map(|n| format!("{base}-{n}"))
                    .find(|k| !taken(k))
                    .unwrap_or(base)
            }
        }
    };
    if orgs.iter().any(|o| o.org.key == key) {
        return Err(FieldError::invalid(
            "key",
            format!("キー「{key}」は使用済みです / the key '{key}' is taken"),
        )
        .into());
    }
    let new = NewOrganisation {
        key,
        name,
        kind,
        sectors,
        region,
    }
    .parse(&app.taxonomy)?;
    let org = app.store.create_org(new).await?;
    audit_log::note(
        app,
        actor,
        actions::ADMIN,
        format!("org:{}", org.id),
        &json!({"op": "org.add", "key": org.org.key, "kind": kind.code(),
                "sectors": org.org.sectors.iter().map(Code::as_str).collect::<Vec<_>>()}),
    )
    .await?;
    Ok(org)
}

/// The organisation with exactly this directory key, if there is one. Importers name the
/// organisation they file for by key, which never changes, rather than by its name.
pub async fn org_with_key(app: &App, key: &str) -> AppResult<Option<Organisation>> {
    Ok(app.store.org_by_key(key.trim()).await?)
}

/// The organisation with this key or (exact) name.
pub async fn find_org(app: &App, name_or_key: &str) -> AppResult<Organisation> {
    let t = name_or_key.trim();
    if let Some(o) = app.store.org_by_key(t).await? {
        return Ok(o);
    }
    let found: Vec<Organisation> = app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.org.name == t)
        .collect();
    match found.len() {
        1 => Ok(found
            .into_iter()
            .next()
            .ok_or_else(|| AppError::Internal("org".into()))?),
        0 => Err(FieldError::invalid(
            "org",
            format!(
                "組織「{t}」は見つかりません（kizuki org list） / no organisation named '{t}' \
                 (see kizuki org list)"
            ),
        )
        .into()),
        _ => Err(FieldError::invalid(
            "org",
            format!(
                "「{t}」という組織が複数あります。キーで指定してください: {} / several \
                 organisations are named '{t}'; give the key",
                found
                    .iter()
                    .map(|o| o.org.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into()),
    }
}

/// Why `role` does not fit, in both languages, naming the field.
fn role_misfit(role: Role, org: &Organisation) -> FieldError {
    let want = match role {
        Role::Reporter | Role::OperatorAdmin => "operator（重要インフラ事業者）",
        Role::Ministry => "ministry（所管省庁）",
        Role::Analyst | Role::Editor | Role::Admin => "centre（センター）",
    };
    let msg = if org.org.kind == OrgKind::Vendor {
        format!(
            "ベンダの組織にはアカウントを作れません / vendor organisations ('{}') have no accounts",
            org.org.name
        )
    } else {
        format!(
            "{}（{}）は {want} の組織にのみ置けます。「{}」は {} です / role {} belongs in a {} \
             organisation; '{}' is {}",
            role.label_ja(),
            role.code(),
            org.org.name,
            org.org.kind.code(),
            role.code(),
            want,
            org.org.name,
            org.org.kind.code()
        )
    };
    FieldError::invalid("role", msg)
}

/// `role`: a role code (`reporter`, `operator_admin`, …) or its Japanese label.
pub fn parse_role(text: &str) -> Result<Role, FieldError> {
    let t = text.trim();
    Role::parse(&t.to_lowercase())
        .or_else(|| Role::ALL.into_iter().find(|r| r.label_ja() == t))
        .ok_or_else(|| {
            FieldError::invalid(
                "role",
                format!(
                    "「{t}」は役割ではありません / '{t}' is not a role; one of: {}",
                    Role::ALL.map(Role::code).join(", ")
                ),
            )
        })
}

/// Creates an account with a one-time password, returned once; the user must replace it at
/// first login. `granter` is the signed-in admin or operator admin (`None`: the CLI, acting
/// as the system administrator); `access::may_grant` decides, so nobody creates a role that
/// does not fit the organisation's kind or is above their own powers.
pub async fn add_user(
    app: &App,
    granter: Option<(&Principal, &Viewer)>,
    org: &Organisation,
    email: &str,
    role: Role,
    display_name: Option<&str>,
) -> AppResult<(User, String)> {
    require_enabled(org)?;
    let email = Email::parse(email)?;
    let target = Member {
        user_id: UserId(0),
        role,
        org_id: org.id,
        org_kind: org.org.kind,
        oversees: Vec::new(),
    };
    if !target.is_consistent() {
        return Err(role_misfit(role, org).into());
    }
    let cli = cli_viewer();
    let viewer = granter.map_or(&cli, |(_, v)| v);
    if !access::may_grant(viewer, org.id, org.org.kind, role).is_allowed() {
        return Err(AppError::Forbidden(format!(
            "role: {} の付与は許可されていません / you may not grant role {} in '{}'",
            role.label_ja(),
            role.code(),
            org.org.name
        )));
    }
    let display_name = display_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(
            || email.as_str().split('@').next().unwrap_or("").to_owned(),
            str::to_owned,
        );
    // Created with a hash no password matches, then given the one-time password together with
    // the "must change" mark: if the second step fails the account cannot be used at all,
    // rather than being usable without the forced change.
    let user = app
        .store
        .create_user(
            NewUser {
                org_id: org.id,
                email: email.clone(),
                display_name,
                role,
                lang: Lang::Ja,
            }
            .parse()?,
            "!unusable",
        )
        .await
        .map_err(|e| match e {
            StoreError::Duplicate { .. } => AppError::from(FieldError::invalid(
                "email",
                format!("{email} は既に登録されています / {email} already has an account"),
            )),
            other => other.into(),
        })?;
    let pw = password::generate(app, ONE_TIME_PASSWORD_CHARS);
    let hash = password::hash(app, &pw)?;
    app.store
        .set_password(user.id, &hash, true, app.clock.now())
        .await?;
    audit_log::note(
        app,
        actor_of(granter.map(|(p, _)| p)),
        actions::ADMIN,
        format!("user:{email}"),
        &json!({"op": "user.add", "org": org.org.key, "role": role.code()}),
    )
    .await?;
    Ok((user, pw))
}

async fn user_by_email(app: &App, email: &str) -> AppResult<User> {
    let email = Email::parse(email)?;
    app.store
        .credentials(&email)
        .await?
        .map(|c| c.user)
        .ok_or_else(|| {
            FieldError::invalid(
                "email",
                format!("{email} のアカウントはありません / no account {email}"),
            )
            .into()
        })
}

/// A new one-time password for the account, returned once; it must be changed at the next
/// login.
pub async fn reset_password(app: &App, email: &str) -> AppResult<(User, String)> {
    let user = user_by_email(app, email).await?;
    let pw = password::generate(app, ONE_TIME_PASSWORD_CHARS);
    let hash = password::hash(app, &pw)?;
    app.store
        .set_password(user.id, &hash, true, app.clock.now())
        .await?;
    audit_log::note(
        app,
        "cli",
        actions::ADMIN,
        format!("user:{}", user.user.email),
        &json!({"op": "user.reset_password"}),
    )
    .await?;
    Ok((user, pw))
}

/// Disables the account and revokes its tokens. Sessions stop at the user's next request,
/// because every request re-reads the user (`auth::principal`); the token revocation is
/// so that enabling the account again does not bring old tokens back. Returns the user and
/// how many tokens were revoked.
pub async fn disable_user(app: &App, email: &str) -> AppResult<(User, usize)> {
    let user = user_by_email(app, email).await?;
    set_active(app, user, false, "cli".to_owned()).await
}

/// Enables a disabled account again (with no tokens; it keeps its password).
pub async fn enable_user(app: &App, email: &str) -> AppResult<User> {
    let user = user_by_email(app, email).await?;
    Ok(set_active(app, user, true, "cli".to_owned()).await?.0)
}

/// Gives `user` another role, under the rules of [`add_user`]: the granter (`None`: the
/// CLI, acting as the system administrator) must be able to grant both the role the account
/// has and the one it gets, and the role must fit the organisation's kind. The change takes
/// effect at the account's next request (every request re-reads the user). Audited as
/// `actor` with the roles before and after.
pub async fn set_role(
    app: &App,
    granter: Option<(&Principal, &Viewer)>,
    user: &User,
    role: Role,
    actor: String,
) -> AppResult<User> {
    let org = app.store.get_org(user.user.org_id).await?;
    let cli = cli_viewer();
    let viewer = granter.map_or(&cli, |(_, v)| v);
    let target = Member {
        user_id: user.id,
        role,
        org_id: org.id,
        org_kind: org.org.kind,
        oversees: Vec::new(),
    };
    if !target.is_consistent() {
        return Err(role_misfit(role, &org).into());
    }
    for r in [user.user.role, role] {
        if !access::may_grant(viewer, org.id, org.org.kind, r).is_allowed() {
            return Err(AppError::Forbidden(format!(
                "role: {} の付与・変更は許可されていません / you may not grant or change role {} in '{}'",
                r.label_ja(),
                r.code(),
                org.org.name
            )));
        }
    }
    let saved = app.store.set_user_role(user.id, role).await?;
    audit_log::note(
        app,
        actor,
        actions::ADMIN,
        format!("user:{}", user.user.email),
        &json!({"op": "user.role", "from": user.user.role.code(), "to": role.code()}),
    )
    .await?;
    Ok(saved)
}

/// `kizuki user role --email EMAIL --role ROLE`.
pub async fn set_role_cli(app: &App, email: &str, role: &str) -> AppResult<User> {
    let role = parse_role(role)?;
    let user = user_by_email(app, email).await?;
    set_role(app, None, &user, role, "cli".to_owned()).await
}

/// Enables or disables `user` (disabling revokes its tokens), audited as `actor`.
pub(crate) async fn set_active(
    app: &App,
    user: User,
    active: bool,
    actor: String,
) -> AppResult<(User, usize)> {
    if active {
        require_enabled(&app.store.get_org(user.user.org_id).await?)?;
    }
    let user = app.store.set_user_active(user.id, active).await?;
    let mut revoked = 0;
    if !active {
        let now = app.clock.now();
        for t in app.store.list_tokens(user.id).await? {
            if t.is_active() {
                app.store.revoke_token(t.id, now).await?;
                revoked += 1;
            }
        }
    }
    let detail = if active {
        json!({"op": "user.enable"})
    } else {
        json!({"op": "user.disable", "tokens_revoked": revoked})
    };
    audit_log::note(
        app,
        actor,
        actions::ADMIN,
        format!("user:{}", user.user.email),
        &detail,
    )
    .await?;
    Ok((user, revoked))
}

/// Disables or enables an organisation, audited as `actor`. Disabling disables every active
/// account of it (revoking their tokens, ending their sessions at the next request) and takes
/// it out of sharing and forwarding choices; its reports stay. Enabling it again enables no
/// account: each is enabled on its own, so nobody regains access by accident. Returns the
/// organisation and how many accounts were disabled.
pub async fn set_org_active(
    app: &App,
    org: &Organisation,
    active: bool,
    actor: String,
) -> AppResult<(Organisation, usize)> {
    let saved = app.store.set_org_active(org.id, active).await?;
    let mut disabled = 0;
    if !active {
        for u in app.store.list_users().await? {
            if u.user.org_id == org.id && u.active {
                set_active(app, u, false, actor.clone()).await?;
                disabled += 1;
            }
        }
    }
    audit_log::note(
        app,
        actor,
        actions::ADMIN,
        format!("org:{}", org.id),
        &json!({"op": if active { "org.enable" } else { "org.disable" },
                "accounts_disabled": disabled}),
    )
    .await?;
    Ok((saved, disabled))
}

/// Refuses an account change in a disabled organisation (adding or enabling an account).
fn require_enabled(org: &Organisation) -> AppResult<()> {
    if org.active {
        Ok(())
    } else {
        Err(AppError::Refused(format!(
            "「{}」は無効です。先に組織を有効にしてください / '{}' is disabled; enable the organisation first",
            org.org.name, org.org.key
        )))
    }
}

/// Whether the user must replace a one-time password before doing anything else.
pub async fn must_change_password(app: &App, user: UserId) -> AppResult<bool> {
    Ok(app.store.password_state(user).await?.must_change)
}

/// The user's password state: the "must change" mark and when the password last changed.
pub async fn password_state(app: &App, user: UserId) -> AppResult<kizuki_store::PasswordState> {
    Ok(app.store.password_state(user).await?)
}

/// The form fields of a password change, so errors name them.
pub const FIELD_CURRENT: &str = "current_password";
pub const FIELD_NEW: &str = "new_password";
pub const FIELD_CONFIRM: &str = "confirm_password";

/// Changes the signed-in user's own password. Every problem is a field error on the field
/// it belongs to: a wrong current password, a new one the policy refuses (or equal to the
/// current one), a confirmation that differs. Clears the one-time mark.
pub async fn change_password(
    app: &App,
    p: &Principal,
    current: &str,
    new: &str,
    confirm: &str,
) -> AppResult<()> {
    let email = Email::parse(&p.email)?;
    let creds = app
        .store
        .credentials(&email)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let (pass, hash) = (current.to_owned(), creds.password_hash.clone());
    // argon2 takes tens of milliseconds of CPU; keep it off the async workers.
    let current_ok = tokio::task::spawn_blocking(move || password::verify(&pass, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    let mut errs = ValidationErrors::default();
    if !current_ok {
        errs.push(FieldError::invalid(
            FIELD_CURRENT,
            "現在のパスワードが正しくありません / the current password is not correct",
        ));
    }
    if let Err(problem) =
        PasswordPolicy::default().check_user(new, email.as_str(), &creds.user.user.display_name)
    {
        let mut e = FieldError::from(problem);
        e.field = FIELD_NEW.to_owned();
        errs.push(e);
    } else if current_ok && new == current {
        errs.push(FieldError::invalid(
            FIELD_NEW,
            "現在と異なるパスワードにしてください / choose a password different from the current one",
        ));
    }
    if new != confirm {
        errs.push(FieldError::invalid(
            FIELD_CONFIRM,
            "確認用のパスワードが一致しません / the confirmation does not match",
        ));
    }
    if !errs.is_empty() {
        return Err(errs.into());
    }
    let hash = password::hash(app, new)?;
    app.store
        .set_password(p.user_id, &hash, false, app.clock.now())
        .await?;
    audit_log::note(
        app,
        audit::actor_user(p.user_id),
        actions::PASSWORD_CHANGED,
        format!("user:{email}"),
        &json!({}),
    )
    .await?;
    Ok(())
}

/// The organisation's allowlist as stored (empty: no restriction).
pub async fn allowlist(app: &App, org: &Organisation) -> AppResult<(OrgAllowlist, Allowlist)> {
    let stored = app.store.org_allowlist(org.id).await?;
    let list = Allowlist::parse(&stored.entries).map_err(|errs| {
        AppError::Internal(format!(
            "stored allowlist of '{}' is unreadable: {}",
            org.org.key,
            errs.iter()
                .map(|e| e.message_en())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    Ok((stored, list))
}

/// Whether `addr` may sign in to (or use a token of) an organisation; an empty or never-set
/// list means no restriction. A list that no longer parses refuses everyone (fail closed).
pub async fn allowlist_permits(
    app: &App,
    org: kizuki_domain::ids::OrgId,
    addr: std::net::IpAddr,
) -> AppResult<bool> {
    Ok(stored_allowlist_permits(
        &app.store.org_allowlist(org).await?,
        addr,
    ))
}

/// Whether a stored allowlist lets `addr` in: an empty list lets everyone in, one that no
/// longer parses nobody.
pub fn stored_allowlist_permits(stored: &OrgAllowlist, addr: std::net::IpAddr) -> bool {
    if stored.entries.trim().is_empty() {
        return true;
    }
    Allowlist::parse(&stored.entries).is_ok_and(|list| list.permits(addr))
}

fn parse_cidr(text: &str) -> AppResult<Cidr> {
    Cidr::parse(text.trim()).map_err(|problem| {
        crate::security::ip_allowlist::EntryError {
            line: 1,
            entry: text.trim().to_owned(),
            problem,
        }
        .to_field_error("cidr")
        .into()
    })
}

/// Adds a network to the organisation's allowlist (the first entry turns the restriction
/// on). Returns the list as stored.
pub async fn allow(app: &App, org: &Organisation, cidr: &str) -> AppResult<Allowlist> {
    edit_allowlist(app, org, cidr, true, Editor::Cli).await
}

/// Removes a network from the allowlist; removing the last one lifts the restriction.
pub async fn disallow(app: &App, org: &Organisation, cidr: &str) -> AppResult<Allowlist> {
    edit_allowlist(app, org, cidr, false, Editor::Cli).await
}

/// Who changes an allowlist: the command line, or a signed-in user on a page who must still
/// be let in afterwards (`keep`, their own address, when the list is their organisation's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Editor {
    Cli,
    User {
        id: kizuki_domain::ids::UserId,
        keep: Option<std::net::IpAddr>,
    },
}

pub(crate) async fn edit_allowlist(
    app: &App,
    org: &Organisation,
    cidr: &str,
    add: bool,
    editor: Editor,
) -> AppResult<Allowlist> {
    let net = parse_cidr(cidr)?;
    let (stored, list) = allowlist(app, org).await?;
    let mut nets = list.entries().to_vec();
    if add {
        if !nets.contains(&net) {
            nets.push(net);
        }
    } else if !nets.contains(&net) {
        return Err(FieldError::invalid(
            "cidr",
            format!("{net} は許可リストにありません / {net} is not on the allowlist"),
        )
        .into());
    } else {
        nets.retain(|n| *n != net);
    }
    let text = Allowlist::from_cidrs(nets).to_text();
    // Checked again as a whole so the size limit applies.
    let list = Allowlist::parse(&text).map_err(|errs| {
        AppError::from(ValidationErrors(
            errs.iter().map(|e| e.to_field_error("cidr")).collect(),
        ))
    })?;
    // Changing one's own organisation's list from a page must not shut oneself out.
    if let Editor::User {
        keep: Some(addr), ..
    } = editor
        && !list.entries().is_empty()
        && !list.permits(addr)
    {
        return Err(FieldError::invalid(
            "cidr",
            format!(
                "この変更のあとは、いまの接続元 {addr} からログインできなくなります。先に {addr} を含む範囲を加えてください / you would lock yourself out: {addr} would no longer be let in"
            ),
        )
        .into());
    }
    let (by, actor) = match editor {
        Editor::Cli => (None, "cli".to_owned()),
        Editor::User { id, .. } => (Some(id), crate::security::audit::actor_user(id)),
    };
    app.store
        .set_org_allowlist(org.id, stored.version, &text, by, app.clock.now())
        .await?;
    audit_log::note(
        app,
        actor,
        actions::ADMIN,
        format!("org:{}", org.id),
        &json!({"op": if add {"allowlist.add"} else {"allowlist.remove"}, "cidr": net.to_string()}),
    )
    .await?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_ascii_names() {
        assert_eq!(key_from_name("Tokyo Power Co."), "tokyo-power-co");
        assert_eq!(key_from_name("東日本電力"), "");
        assert_eq!(key_from_name("JR東日本 (rail)"), "jr-rail");
        assert!(key_from_name(&"a".repeat(80)).len() <= 40);
    }

    #[test]
    fn kinds_and_roles_parse_in_both_languages() {
        assert_eq!(parse_kind("operator").unwrap(), OrgKind::Operator);
        assert_eq!(parse_kind("所管省庁").unwrap(), OrgKind::Ministry);
        assert_eq!(parse_kind("Center").unwrap(), OrgKind::Centre);
        assert_eq!(parse_kind("bank").unwrap_err().field, "kind");
        assert_eq!(parse_role("operator-admin").unwrap(), Role::OperatorAdmin);
        assert_eq!(parse_role("分析担当").unwrap(), Role::Analyst);
        assert_eq!(parse_role("root").unwrap_err().field, "role");
    }

    #[test]
    fn sectors_by_code_or_label() {
        let tx = kizuki_dataset::default_taxonomy().unwrap();
        let code = parse_sector(&tx, "電力").unwrap();
        assert_eq!(parse_sector(&tx, code.as_str()).unwrap(), code);
        let e = parse_sector(&tx, "宇宙").unwrap_err();
        assert_eq!(e.field, "sector");
        assert!(e.message_en().contains("電力"), "{}", e.message_en());
    }
}
