//! Views: the embedded templates (minijinja, HTML auto-escaped), loaded and parsed at start so
//! a broken template stops the server rather than a page, with the helpers templates use:
//! `t()` for catalogue messages, `label()` for taxonomy terms, and date filters that show
//! 西暦 with 和暦 beside it.

use crate::error::WebError;
use crate::i18n::{self, I18n};
use chrono::{DateTime, NaiveDate, Utc};
use kizuki_domain::clock::jst;
use kizuki_domain::taxonomy::{Lang, Taxonomy, Vocabulary};
use kizuki_domain::wareki;
use minijinja::value::{Kwargs, Serde};
use minijinja::{Environment, State, UndefinedBehavior, Value};
use std::sync::Arc;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        /// Every template, by name, embedded at compile time.
        pub const TEMPLATES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../templates/", $name)))),*
        ];
    };
}

templates!(
    "base.html",
    "macros.html",
    "error.html",
    "home.html",
    "login.html",
    "dashboard.html",
    "reports/list.html",
    "reports/form.html",
    "reports/detail.html",
    "reports/triage.html",
    "cases/_case.html",
    "cases/list.html",
    "cases/view.html",
    "cases/edit.html",
    "cases/_rows.html",
    // Publication.
    "cases/anonymise.html",
    "cases/_signoff_history.html",
    "cases/signoff.html",
    "public/index.html",
    "public/case.html",
    "public/survey.html",
    "surveys/list.html",
    "surveys/view.html",
    "surveys/selection.html",
    // Running a survey year.
    "surveys/edit.html",
    "surveys/lessons.html",
    "surveys/new_case.html",
    "surveys/publish.html",
    "cases/cooperation.html",
    "interviews/inbox.html",
    "interviews/case.html",
    "interviews/_request_fields.html",
    "interviews/show.html",
    "interviews/minutes.html",
    "interviews/templates.html",
    "lessons.html",
    // Search.
    "search.html",
    // Security.
    "login_mfa.html",
    "login_enrol.html",
    "recovery_codes.html",
    "ip_refused.html",
    "audit.html",
    // Accounts.
    "account_password.html",
    "account_tokens.html",
    "account_mfa.html",
    "org_allowlist.html",
    "org_tokens.html",
    "admin_orgs.html",
    "org_users.html",
    "org_contacts.html",
    "admin_org_edit.html",
    "contacts.html",
    "forwarded.html",
    // The lessons catalog.
    "lessons/themes.html",
    "lessons/theme.html",
    "lessons/theme_form.html",
    "lessons/tag.html",
    "lessons/assessment.html",
    "lessons/assessment_history.html",
    "lessons/adoption.html",
    "lessons/followups.html",
    "lessons/case_followups.html",
    "lessons/followup.html",
    "stats.html",
);

pub struct Views {
    env: Environment<'static>,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Views")
    }
}

fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::Ja)
}

fn error_field(i18n: &I18n, lang: Lang, key: &str, sections: &[String]) -> String {
    if sections.iter().any(|s| s == "case") {
        return crate::pages::cases::field_label(key, lang);
    }
    let found = |name: &str| {
        sections
            .iter()
            .map(String::as_str)
            .chain(["field"])
            .map(|s| format!("{s}.{name}"))
            .find(|k| i18n.has(k))
    };
    let label = |name: &str| found(name).map(|k| i18n.get(lang, &k).to_owned());
    let Some((list, rest)) = key.split_once('[') else {
        let name = key.split('.').next().unwrap_or(key);
        return label(name).unwrap_or_default();
    };
    let Some((index, sub)) = rest.split_once(']') else {
        return label(list).unwrap_or_default();
    };
    let Ok(n) = index.parse::<usize>() else {
        return label(list).unwrap_or_default();
    };
    let row_key = sections.first().map(|s| format!("{s}.row"));
    let row = match row_key.filter(|k| i18n.has(k)) {
        Some(k) => i18n.fmt(lang, &k, &[("n", (n + 1).to_string())]),
        None => match label(list) {
            Some(l) => format!("{l} {}", n + 1),
            None => return String::new(),
        },
    };
    let sub = sub.trim_start_matches(['.', '[']).trim_end_matches(']');
    match label(sub).filter(|_| !sub.is_empty()) {
        Some(s) => format!("{row}: {s}"),
        None => row,
    }
}

fn vocab(name: &str) -> Option<Vocabulary> {
    Vocabulary::ALL.into_iter().find(|v| v.key() == name)
}

fn parse_instant(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn parse_day(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str()?;
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_instant(v).map(|t| t.with_timezone(&jst()).date_naive()))
}

/// "2019年5月1日（令和元年5月1日）" in Japanese; "2019-05-01 (令和元年5月1日)" in English.
fn day_text(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Ja => wareki::format_both(d),
        Lang::En => format!("{} ({})", d.format("%Y-%m-%d"), wareki::format_wareki(d)),
    }
}

impl Views {
    pub fn load(i18n: &'static I18n, taxonomy: Arc<Taxonomy>) -> Result<Views, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let lang = lang_of(state);
                let mut args = Vec::new();
                for k in kwargs.args() {
                    let v: Value = kwargs.get(k)?;
                    args.push((k, v.to_string()));
                }
                Ok(i18n.fmt(lang, key, &args))
            },
        );
        // A refused field named as the form shows it, for the error summary of any form:
        // `contacts[1].email` → 連絡先 2: メール, looked up in the form's own message
        // sections, then `field`; the case editor's places through its own labels. Nothing
        // when the form does not label it, so that no code is shown instead.
        env.add_function(
            "error_field",
            move |state: &State, key: &str, sections: Vec<String>| -> String {
                error_field(i18n, lang_of(state), key, &sections)
            },
        );
        let tx = taxonomy.clone();
        env.add_function(
            "label",
            move |state: &State, vocab_name: &str, code: Value| {
                let code = code.to_string();
                match vocab(vocab_name) {
                    Some(v) => tx.label(v, &code, lang_of(state)).to_owned(),
                    None => code,
                }
            },
        );
        let tx = taxonomy.clone();
        env.add_function("terms", move |state: &State, vocab_name: &str| {
            let lang = lang_of(state);
            let list: Vec<(String, String, String)> = vocab(vocab_name)
                .map(|v| {
                    tx.terms(v)
                        .iter()
                        .map(|t| {
                            (
                                t.code.clone(),
                                t.label(lang).to_owned(),
                                t.group.clone().unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Value::from(Serde(list))
        });
        env.add_function("pick", |state: &State, text: &str| {
            i18n::pick(text, lang_of(state)).to_owned()
        });
        env.add_filter("dt", |state: &State, v: Value| -> String {
            match parse_instant(&v) {
                Some(t) => {
                    let local = t.with_timezone(&jst());
                    format!(
                        "{} {}",
                        day_text(local.date_naive(), lang_of(state)),
                        local.format("%H:%M")
                    )
                }
                None => String::new(),
            }
        });
        // A span of minutes as people say it, in the page's language (2日3時間 / 2 d 3 h).
        env.add_filter("minutes", |state: &State, v: Value| -> String {
            let d = chrono::TimeDelta::minutes(v.as_i64().unwrap_or(0));
            match lang_of(state) {
                Lang::Ja => kizuki_domain::deadlines::duration_ja(d),
                Lang::En => kizuki_domain::deadlines::duration_en(d),
            }
        });
        // Whole numbers with thousands separators (12,000人), as people read them.
        env.add_filter("place", |state: &State, v: Value| -> String {
            crate::pages::cases::field_label(v.as_str().unwrap_or_default(), lang_of(state))
        });
        env.add_filter("num", |v: Value| -> String {
            match v.as_i64() {
                Some(n) => kizuki_domain::text::thousands(n),
                None => v.to_string(),
            }
        });
        env.add_filter("day", |state: &State, v: Value| -> String {
            parse_day(&v).map_or_else(String::new, |d| day_text(d, lang_of(state)))
        });
        env.add_filter("fy", |state: &State, v: Value| -> String {
            let Some(y) = v.as_i64().and_then(|y| i32::try_from(y).ok()) else {
                return String::new();
            };
            match kizuki_domain::fiscal::FiscalYear::new(y) {
                Ok(fy) => match lang_of(state) {
                    Lang::Ja => format!("{y}年度（{}）", fy.wareki_label()),
                    Lang::En => format!("FY{y} ({})", fy.wareki_label()),
                },
                Err(_) => y.to_string(),
            }
        });
        Ok(Views { env })
    }

    /// Renders a template with a JSON context.
    pub fn render(&self, name: &str, ctx: serde_json::Value) -> Result<String, WebError> {
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| WebError::Internal(format!("template {name}: {e}")))?;
        tmpl.render(Value::from(Serde(ctx)))
            .map_err(|e| WebError::Internal(format!("rendering {name}: {e:#}")))
    }
}

/// A download: the bytes with their media type, saved under `name`, never shown inline, never
/// sniffed into something else, and sandboxed should a browser open it anyway. The name goes
/// out twice: as ASCII for old clients and UTF-8 (RFC 6266 / 8187) for the rest, so a
/// Japanese file name survives.
pub fn attachment(bytes: Vec<u8>, content_type: &str, name: &str) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `text` as a QR code in inline SVG (no XML declaration, sized by the page's CSS), or
/// `None` when it is too long for one; the page then shows the text alone.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // The markup starts at `<svg`; what comes before is the XML prologue.
    svg.find("<svg").map(|at| svg[at..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("…")` written in a template names a message both catalogues have.
    #[test]
    fn every_message_used_in_templates_exists() {
        let cat = i18n::catalogue();
        let mut missing = Vec::new();
        for ((name, src), quote) in TEMPLATES.iter().flat_map(|t| [(t, '"'), (t, '\'')]) {
            let open = format!("t({quote}");
            let mut rest = *src;
            while let Some(at) = rest.find(&open) {
                let before = rest[..at].chars().next_back();
                let after = &rest[at + 3..];
                rest = after;
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue; // `select("…")` and the like
                }
                let Some(end) = after.find(quote) else { break };
                let key = &after[..end];
                // `t("status." ~ code)` builds the key: the prefix must start some key.
                let dynamic = after[end + 1..].trim_start().starts_with('~');
                let known = if dynamic {
                    cat.keys().any(|k| k.starts_with(key))
                } else {
                    cat.has(key)
                };
                if !known {
                    missing.push(format!("{name}: {key}"));
                }
            }
        }
        assert!(missing.is_empty(), "missing messages: {missing:?}");
    }

    #[test]
    fn all_templates_parse_and_dates_show_both_calendars() {
        let tx = Arc::new(kizuki_dataset::default_taxonomy().unwrap());
        let views = Views::load(i18n::catalogue(), tx).unwrap();
        let out = views
            .env
            .render_str(
                "{{ at|dt }} / {{ d|day }} / {{ label('sectors', 'railway') }}",
                Value::from(Serde(serde_json::json!({
                    "lang": "ja", "at": "2019-04-30T15:30:00Z", "d": "2019-04-30"
                }))),
            )
            .unwrap();
        assert_eq!(
            out,
            "2019年5月1日（令和元年5月1日） 00:30 / 2019年4月30日（平成31年4月30日） / 鉄道"
        );
    }
}
