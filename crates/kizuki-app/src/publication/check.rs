//! Publication problems for `kizuki check`: a case on the public portal must have
//! been approved by its operator in exactly the published text, and its anonymisation must
//! have no undecided candidate. Either failing means something reached the public that the
//! sign-off process did not let through.

use crate::App;
use crate::error::AppResult;
use crate::publication::{DEFAULT_K, load};
use kizuki_domain::signoff::{Action, SignOff, SignOffState};
use kizuki_store::{Problem, Publication};

fn name(p: &Publication) -> String {
    format!("公開中の事例 {}（case {}）", p.slug(), p.case_id)
}

const WITHDRAW: &str = "事例を確認し、必要なら公開を取り下げてから承認を取り直してください / review the case; withdraw it and obtain the operator's approval again if needed";

/// Whether the operator's last approval before the last publish is of the published text.
fn approved_as_published(p: &Publication, s: &SignOff) -> bool {
    let history = s.history();
    let Some(publish) = history
        .iter()
        .rposition(|t| matches!(t.action, Action::Publish { .. }))
    else {
        return false;
    };
    history[..publish]
        .iter()
        .rev()
        .find_map(|t| match t.action {
            Action::Approve { fingerprint } => Some(fingerprint.to_string() == p.fingerprint),
            _ => None,
        })
        .unwrap_or(false)
}

/// Every published case checked against its sign-off history and anonymisation review.
pub async fn problems(app: &App) -> AppResult<Vec<Problem>> {
    let mut out = Vec::new();
    for p in app.store.list_publications(None).await? {
        let history = app.store.signoff_history(p.case_id).await?;
        match SignOff::replay(history) {
            Err(e) => {
                // The review cannot be computed without a history either; one problem says it.
                out.push(Problem {
                    what: format!(
                        "{}: 承認の履歴が読めません / sign-off history unreadable: {}",
                        name(&p),
                        e.message_ja()
                    ),
                    fix: WITHDRAW.into(),
                });
                continue;
            }
            Ok(s) => {
                if s.state() != SignOffState::Published || !approved_as_published(&p, &s) {
                    out.push(Problem {
                        what: format!(
                            "{}: 公開された本文（{}）を事業者が承認した記録がありません / no operator approval of the published text",
                            name(&p),
                            p.fingerprint
                        ),
                        fix: WITHDRAW.into(),
                    });
                }
            }
        }
        let reviewed = match load(app, p.case_id, DEFAULT_K).await {
            Ok(r) => r,
            Err(e) => {
                out.push(Problem {
                    what: format!(
                        "{}: 匿名化レビューを計算できません / anonymisation review failed: {e}",
                        name(&p)
                    ),
                    fix: WITHDRAW.into(),
                });
                continue;
            }
        };
        let unresolved = reviewed.anonymised.review.unresolved();
        if !unresolved.is_empty() {
            let ids: Vec<&str> = unresolved.iter().take(5).map(|c| c.id.as_str()).collect();
            out.push(Problem {
                what: format!(
                    "{}: 匿名化で未判断の候補が {} 件あります（{}） / {} anonymisation candidate(s) undecided",
                    name(&p),
                    unresolved.len(),
                    ids.join("、"),
                    unresolved.len()
                ),
                fix: "匿名化レビューで各候補を判断し、公開内容を確認してください / decide each candidate in the anonymisation review and check what is published".into(),
            });
        }
    }
    Ok(out)
}
