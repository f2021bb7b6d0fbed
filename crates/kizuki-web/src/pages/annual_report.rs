//! Downloads of a survey's annual report (HTML, PDF, Markdown) from the survey page, built from
//! the stored survey and cases with the same renderers as `kizuki report`.

use crate::error::WebError;
use crate::session::SignedIn;
use crate::state::WebState;
use axum::extract::{Path, State};
use axum::response::Response;
use kizuki_app::survey::annual_report::{self, Edition, Format};

pub async fn download(
    State(st): State<WebState>,
    s: SignedIn,
    Path((year, format)): Path<(i32, String)>,
) -> Result<Response, WebError> {
    let format = Format::from_extension(&format).ok_or(WebError::NotFound)?;
    let r =
        annual_report::render(&st.app, Edition::Member(&s.p), year, format, &st.pdf_fonts).await?;
    Ok(crate::render::attachment(
        r.bytes,
        r.format.content_type(),
        &r.file_name,
    ))
}
