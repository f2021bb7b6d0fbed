//! Downloads of a survey's annual report (HTML, PDF, Markdown) from the survey page, built from
//! the stored survey and cases with the same renderers as `kizuki report`.

use crate::error::WebError;
use crate::session::SignedIn;
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kizuki_app::AppError;
use kizuki_app::cases;

pub async fn download(
    State(st): State<WebState>,
    s: SignedIn,
    Path((year, format)): Path<(i32, String)>,
) -> Result<Response, WebError> {
    let v = cases::survey(&st.app, &s.p, year).await?;
    let contents: Vec<_> = v.cases.into_iter().map(|c| c.content).collect();
    let model = kizuki_report::build_report(&v.survey.content, &contents, &st.app.taxonomy);
    let (bytes, ty, ext) = match format.as_str() {
        "html" => (
            kizuki_report::render_html(&model).into_bytes(),
            "text/html; charset=utf-8",
            "html",
        ),
        "md" => (
            kizuki_report::render_markdown(&model).into_bytes(),
            "text/markdown; charset=utf-8",
            "md",
        ),
        "pdf" => {
            // Typesetting takes about a second of CPU; keep it off the async workers.
            let pdf = tokio::task::spawn_blocking(move || kizuki_pdf::render_pdf(&model))
                .await
                .map_err(|e| AppError::Internal(format!("PDF task: {e}")))?
                .map_err(|e| AppError::Internal(format!("PDF: {e}")))?;
            (pdf, "application/pdf", "pdf")
        }
        _ => return Err(WebError::NotFound),
    };
    let disposition = format!("attachment; filename=\"kizuki-survey-{year}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, ty.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
