//! Self-assessment of the lesson themes by operators and the adoption figures drawn from it.
//! An organisation's answers are read by its own members and by the centre only; anyone else
//! is told they do not exist. Figures go to the centre whole, and to ministries (their
//! sectors) and operators (their own sectors) only where at least
//! [`MIN_ORGS_SHOWN`] organisations stand behind them.

use crate::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::security::{audit, audit_log};
use kizuki_domain::adoption::{
    AdoptionCell, AssessmentInput, MIN_ORGS_SHOWN, Standing, adoption as figures,
};
use kizuki_domain::ids::OrgId;
use kizuki_domain::org::{OrgKind, Organisation};
use kizuki_domain::taxonomy::{Code, Vocabulary};
use kizuki_domain::user::Role;
use kizuki_store::{AssessmentRecord, StoreError, StoredTheme};
use serde::Serialize;
use std::collections::BTreeMap;

/// A theme with the organisation's current answer on it.
#[derive(Debug, Clone, Serialize)]
pub struct ThemeStanding {
    pub theme: StoredTheme,
    pub current: Option<AssessmentRecord>,
}

/// An organisation's self-assessment as it stands.
#[derive(Debug, Clone, Serialize)]
pub struct SelfAssessment {
    pub org_id: OrgId,
    pub org_name: String,
    /// Every theme open for answers, then retired themes the organisation answered.
    pub themes: Vec<ThemeStanding>,
    /// Whether the principal may record answers (the organisation's own administrators).
    pub may_answer: bool,
}

/// The organisation, if the principal may read its answers: its own members and the centre.
/// Anyone else gets "not found", so the answers' existence is not given away either.
async fn readable_org(app: &App, p: &Principal, org: OrgId) -> AppResult<Organisation> {
    let own = p.is_operator() && p.org_id == org;
    if !(own || p.is_centre()) {
        return Err(StoreError::not_found("self-assessment", org).into());
    }
    let o = app.store.get_org(org).await?;
    if o.org.kind != OrgKind::Operator {
        return Err(StoreError::not_found("self-assessment", org).into());
    }
    Ok(o)
}

fn may_answer(p: &Principal, org: OrgId) -> bool {
    p.role == Role::OperatorAdmin && p.org_id == org
}

/// Refuses anyone but the organisation's administrators before an answer is read: "not
/// found" to those who may not read the answers either, "forbidden" to its other readers.
pub async fn require_answerer(app: &App, p: &Principal, org: OrgId) -> AppResult<()> {
    readable_org(app, p, org).await?;
    if may_answer(p, org) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only the organisation's administrators answer its self-assessment".into(),
        ))
    }
}

/// An organisation's answers per theme.
pub async fn self_assessment(app: &App, p: &Principal, org: OrgId) -> AppResult<SelfAssessment> {
    let o = readable_org(app, p, org).await?;
    let mut current: BTreeMap<String, AssessmentRecord> = app
        .store
        .current_assessments(Some(org))
        .await?
        .into_iter()
        .map(|r| (r.assessment.theme.to_string(), r))
        .collect();
    let themes = app
        .store
        .list_themes()
        .await?
        .into_iter()
        .filter_map(|t| {
            let answer = current.remove(t.theme.key.as_str());
            (!t.theme.retired || answer.is_some()).then_some(ThemeStanding {
                theme: t,
                current: answer,
            })
        })
        .collect();
    Ok(SelfAssessment {
        org_id: org,
        org_name: o.org.name,
        themes,
        may_answer: may_answer(p, org),
    })
}

/// Every answer of the organisation on one theme, newest first.
pub async fn history(
    app: &App,
    p: &Principal,
    org: OrgId,
    theme: &str,
) -> AppResult<(StoredTheme, Vec<AssessmentRecord>)> {
    readable_org(app, p, org).await?;
    let t = crate::lessons::find_theme(app, theme).await?;
    let h = app.store.assessment_history(org, theme).await?;
    Ok((t, h))
}

/// Records the organisation's answer on a theme; its own administrators only. `expected` is
/// the answer the form was filled from (its record id, 0 for none): a newer one is a
/// conflict. A retired theme takes no new answers. Audited.
pub async fn answer(
    app: &App,
    p: &Principal,
    org: OrgId,
    input: &AssessmentInput,
    expected: i64,
) -> AppResult<AssessmentRecord> {
    require_answerer(app, p, org).await?;
    let a = input.parse()?;
    let theme = crate::lessons::find_theme(app, a.theme.as_str())
        .await
        .map_err(|_| {
            kizuki_domain::FieldError::new(
                "theme",
                kizuki_domain::FieldErrorKind::UnknownCode {
                    code: a.theme.to_string(),
                },
            )
        })?;
    if theme.theme.retired {
        return Err(kizuki_domain::FieldError::invalid(
            "theme",
            "this theme is retired and takes no new answers",
        )
        .into());
    }
    let saved = app
        .store
        .record_assessment(org, &a, expected, Some(p.user_id), app.clock.now())
        .await?;
    audit_log::note(
        app,
        audit::actor_user(p.user_id),
        audit::actions::CHANGE,
        format!("assessment:{org}:{}", a.theme),
        &serde_json::json!({"after": saved.assessment, "previous": expected}),
    )
    .await?;
    Ok(saved)
}

/// Adoption per sector and theme, as one viewer may see it.
#[derive(Debug, Clone, Serialize)]
pub struct AdoptionView {
    pub themes: Vec<StoredTheme>,
    /// The sectors shown, in code order.
    pub sectors: Vec<Code>,
    /// One per sector and theme, sector by sector in `sectors` order, themes in `themes`
    /// order.
    pub cells: Vec<AdoptionCell>,
    /// True when figures from fewer than [`MIN_ORGS_SHOWN`] organisations are withheld from
    /// this viewer (everyone but the centre).
    pub suppression_applies: bool,
    /// True when some cell is withheld, so the page says why.
    pub any_suppressed: bool,
    pub min_orgs: usize,
}

impl AdoptionView {
    pub fn cell(&self, sector: &Code, theme: &str) -> Option<&AdoptionCell> {
        self.cells
            .iter()
            .find(|c| &c.sector == sector && c.theme == theme)
    }
}

/// The sectors whose figures the principal may see: every sector for the centre, a
/// ministry's own, an operator's own; nothing for anyone else.
async fn sector_scope(app: &App, p: &Principal) -> AppResult<Option<Vec<Code>>> {
    if p.is_centre() {
        return Ok(None);
    }
    let own = app.store.get_org(p.org_id).await?;
    match (p.role, own.org.kind) {
        (Role::Ministry, OrgKind::Ministry) => Ok(Some(own.org.sectors)),
        (Role::Reporter | Role::OperatorAdmin, OrgKind::Operator) => Ok(Some(own.org.sectors)),
        _ => Err(AppError::Forbidden(
            "adoption figures are for the centre, ministries and operators".into(),
        )),
    }
}

/// Adoption per sector and theme from the latest answers of active operators, narrowed to
/// `sector` if given. A sector outside the viewer's scope is "not found".
pub async fn adoption(app: &App, p: &Principal, sector: Option<&str>) -> AppResult<AdoptionView> {
    let scope = sector_scope(app, p).await?;
    let in_scope = |c: &Code| scope.as_ref().is_none_or(|s| s.contains(c));
    if let Some(wanted) = sector
        && !in_scope(&Code(wanted.to_owned()))
    {
        return Err(StoreError::not_found("sector", wanted).into());
    }
    let wanted = |c: &Code| in_scope(c) && sector.is_none_or(|s| s == c.as_str());
    let orgs: Vec<Organisation> = app
        .store
        .list_orgs()
        .await?
        .into_iter()
        .filter(|o| o.active && o.org.kind == OrgKind::Operator)
        .collect();
    let mut per_sector: BTreeMap<Code, usize> = BTreeMap::new();
    for o in &orgs {
        for s in o.org.sectors.iter().filter(|s| wanted(s)) {
            *per_sector.entry(s.clone()).or_default() += 1;
        }
    }
    // A ministry or operator asking about one of its sectors with no operators yet still
    // gets a row for it, withheld like any small group.
    for s in scope.iter().flatten().filter(|s| wanted(s)) {
        per_sector.entry(s.clone()).or_default();
    }
    if let Some(s) = sector {
        per_sector.entry(Code(s.to_owned())).or_default();
    }
    let sectors_of: BTreeMap<OrgId, &Vec<Code>> =
        orgs.iter().map(|o| (o.id, &o.org.sectors)).collect();
    let themes: Vec<StoredTheme> = app
        .store
        .list_themes()
        .await?
        .into_iter()
        .filter(|t| !t.theme.retired)
        .collect();
    let keys: Vec<String> = themes.iter().map(|t| t.theme.key.to_string()).collect();
    let mut answers: Vec<(Code, String, Standing)> = Vec::new();
    for r in app.store.current_assessments(None).await? {
        let Some(sectors) = sectors_of.get(&r.org) else {
            continue;
        };
        for s in sectors.iter().filter(|s| per_sector.contains_key(*s)) {
            answers.push((
                s.clone(),
                r.assessment.theme.to_string(),
                r.assessment.standing,
            ));
        }
    }
    let whole = p.is_centre();
    let cells = figures(&answers, &per_sector, &keys, whole);
    Ok(AdoptionView {
        any_suppressed: cells.iter().any(|c| c.suppressed),
        cells,
        sectors: per_sector.into_keys().collect(),
        themes,
        suppression_applies: !whole,
        min_orgs: MIN_ORGS_SHOWN,
    })
}

/// The figures as rows for CSV and XLSX: sector, theme, then the counts per standing, the
/// number answered, the sector's operators and the share in place; a withheld cell says so
/// in place of its figures. Audited as an export.
pub async fn adoption_rows(
    app: &App,
    p: &Principal,
    sector: Option<&str>,
    lang: kizuki_domain::taxonomy::Lang,
) -> AppResult<Vec<Vec<String>>> {
    let view = adoption(app, p, sector).await?;
    audit_log::note(
        app,
        audit::actor_user(p.user_id),
        audit::actions::READ,
        "adoption.export".to_owned(),
        &serde_json::json!({"sector": sector, "cells": view.cells.len()}),
    )
    .await?;
    let ja = lang == kizuki_domain::taxonomy::Lang::Ja;
    let mut head: Vec<String> = vec![
        if ja { "分野" } else { "Sector" }.into(),
        if ja { "テーマ" } else { "Theme" }.into(),
    ];
    head.extend(Standing::ALL.iter().map(|s| s.label(lang).to_owned()));
    head.extend(
        if ja {
            ["回答数", "事業者数", "実施率(%)", "注記"]
        } else {
            ["Answered", "Operators", "In place (%)", "Note"]
        }
        .map(str::to_owned),
    );
    let mut rows = vec![head];
    for c in &view.cells {
        let name = view
            .themes
            .iter()
            .find(|t| t.theme.key.as_str() == c.theme)
            .map(|t| t.theme.name(lang).to_owned())
            .unwrap_or_else(|| c.theme.clone());
        let sector_name = app
            .taxonomy
            .label(Vocabulary::Sector, c.sector.as_str(), lang)
            .to_owned();
        let mut row = vec![sector_name, name];
        if c.suppressed {
            row.extend(std::iter::repeat_n(String::new(), Standing::ALL.len() + 3));
            row.push(if ja {
                format!("{MIN_ORGS_SHOWN}者未満のため非表示")
            } else {
                format!("withheld: fewer than {MIN_ORGS_SHOWN} organisations")
            });
        } else {
            row.extend(c.counts.iter().map(|(_, n)| n.to_string()));
            row.push(c.answered.to_string());
            row.push(c.organisations.to_string());
            row.push(
                c.in_place_percent
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            );
            row.push(String::new());
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_support::{analyst_principal, demo, principal};
    use kizuki_domain::org::NewOrganisation;
    use kizuki_domain::taxonomy::Lang;
    use kizuki_domain::user::{Email, NewUser};

    /// Another railway operator with an administrator, as a signed-in principal.
    async fn railway_admin(app: &App, n: u32) -> Principal {
        let org = app
            .store
            .create_org(NewOrganisation {
                key: format!("railway-{n}"),
                name: format!("鉄道{n}株式会社"),
                kind: OrgKind::Operator,
                sectors: vec![Code("railway".into())],
                region: None,
            })
            .await
            .unwrap();
        let user = app
            .store
            .create_user(
                NewUser {
                    org_id: org.id,
                    email: Email::parse(&format!("admin@railway-{n}.example.jp")).unwrap(),
                    display_name: format!("管理者{n}"),
                    role: Role::OperatorAdmin,
                    lang: Lang::Ja,
                },
                "$argon2id$x",
            )
            .await
            .unwrap();
        Principal::from_user(&user)
    }

    fn said(standing: Standing) -> AssessmentInput {
        AssessmentInput {
            theme: "mfa".into(),
            standing: standing.code().into(),
            note: "リモート接続から".into(),
        }
    }

    #[tokio::test]
    async fn answers_stay_with_their_organisation_and_the_centre() {
        let (app, _t) = demo(61).await;
        let admin = principal(&app, "admin@railway.example.jp").await;
        let reporter = principal(&app, "reporter@railway.example.jp").await;
        let other = principal(&app, "reporter@finance.example.jp").await;
        let ministry = principal(&app, "ministry@ministry.example.jp").await;
        let analyst = analyst_principal(&app).await;
        let org = admin.org_id;

        let first = answer(&app, &admin, org, &said(Standing::NotStarted), 0)
            .await
            .unwrap();
        // A reporter reads the answers but does not give them.
        assert!(matches!(
            answer(&app, &reporter, org, &said(Standing::InPlace), first.id).await,
            Err(AppError::Forbidden(_))
        ));
        // Starting again from "no answer" is stale; from the first, it is recorded.
        assert!(matches!(
            answer(&app, &admin, org, &said(Standing::InPlace), 0).await,
            Err(AppError::Store(StoreError::Conflict { .. }))
        ));
        answer(&app, &admin, org, &said(Standing::InProgress), first.id)
            .await
            .unwrap();
        let bad = answer(
            &app,
            &admin,
            org,
            &AssessmentInput {
                theme: "mfa".into(),
                standing: "maybe".into(),
                note: String::new(),
            },
            0,
        )
        .await;
        assert!(
            matches!(bad, Err(AppError::Validation(ref e)) if e.for_field("standing").is_some())
        );

        for p in [&admin, &reporter, &analyst] {
            let sa = self_assessment(&app, p, org).await.unwrap();
            let mfa = sa
                .themes
                .iter()
                .find(|t| t.theme.theme.key.as_str() == "mfa")
                .unwrap();
            assert_eq!(
                mfa.current.as_ref().map(|r| r.assessment.standing),
                Some(Standing::InProgress)
            );
            assert_eq!(sa.may_answer, p.role == Role::OperatorAdmin);
        }
        let (_, h) = history(&app, &reporter, org, "mfa").await.unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].id, first.id);
        // Another operator and a ministry are told there is nothing there.
        for p in [&other, &ministry] {
            assert!(matches!(
                self_assessment(&app, p, org).await,
                Err(AppError::Store(StoreError::NotFound { .. }))
            ));
            assert!(matches!(
                history(&app, p, org, "mfa").await,
                Err(AppError::Store(StoreError::NotFound { .. }))
            ));
            assert!(matches!(
                answer(&app, p, org, &said(Standing::InPlace), 0).await,
                Err(AppError::Store(StoreError::NotFound { .. }))
            ));
        }
    }

    #[tokio::test]
    async fn figures_from_fewer_than_five_operators_are_withheld_outside_the_centre() {
        let (app, _t) = demo(62).await;
        let ministry = principal(&app, "ministry@ministry.example.jp").await;
        let analyst = analyst_principal(&app).await;
        let railway = principal(&app, "admin@railway.example.jp").await;
        answer(&app, &railway, railway.org_id, &said(Standing::InPlace), 0)
            .await
            .unwrap();
        // Three more railway operators make four.
        for (n, s) in [
            (2, Standing::InPlace),
            (3, Standing::NotStarted),
            (4, Standing::NotApplicable),
        ] {
            let p = railway_admin(&app, n).await;
            answer(&app, &p, p.org_id, &said(s), 0).await.unwrap();
        }
        let railway_code = Code("railway".into());

        let seen = adoption(&app, &ministry, Some("railway")).await.unwrap();
        assert!(seen.suppression_applies);
        let cell = seen.cell(&railway_code, "mfa").unwrap();
        assert!(cell.suppressed);
        assert_eq!((cell.answered, cell.organisations), (0, 0));
        assert!(cell.counts.is_empty() && cell.in_place_percent.is_none());
        let rows = adoption_rows(&app, &ministry, Some("railway"), Lang::Ja)
            .await
            .unwrap();
        let mfa_row = rows
            .iter()
            .find(|r| r[1] == "多要素認証")
            .expect("the mfa row");
        assert!(mfa_row.last().unwrap().contains("5者未満"), "{mfa_row:?}");
        assert!(mfa_row[2..7].iter().all(String::is_empty), "{mfa_row:?}");

        // The centre sees the figures whole.
        let centre = adoption(&app, &analyst, Some("railway")).await.unwrap();
        let cell = centre.cell(&railway_code, "mfa").unwrap();
        assert!(!cell.suppressed);
        assert_eq!((cell.answered, cell.organisations), (4, 4));
        assert_eq!(cell.in_place_percent, Some(66));

        // A fifth operator's answer makes the figure fit to show.
        let p = railway_admin(&app, 5).await;
        answer(&app, &p, p.org_id, &said(Standing::InProgress), 0)
            .await
            .unwrap();
        let seen = adoption(&app, &ministry, Some("railway")).await.unwrap();
        let cell = seen.cell(&railway_code, "mfa").unwrap();
        assert!(!cell.suppressed);
        assert_eq!((cell.answered, cell.organisations), (5, 5));
        assert_eq!(cell.in_place_percent, Some(50));
        // Themes nobody answered stay withheld.
        let other = seen
            .cells
            .iter()
            .find(|c| c.theme != "mfa")
            .expect("another theme");
        assert!(other.suppressed);

        // An operator sees its own sector only; a sector outside a viewer's scope is not
        // there.
        let own = adoption(&app, &railway, None).await.unwrap();
        assert_eq!(own.sectors, [railway_code]);
        assert!(matches!(
            adoption(&app, &railway, Some("finance")).await,
            Err(AppError::Store(StoreError::NotFound { .. }))
        ));
    }
}
