//! Query cancellation through the proxy: a CancelRequest with a key the proxy gave out is forwarded to the
//! database, over TLS as for the session, with the database's real key. The framework bounds how many
//! run at once and lets one run per session.

use iamwire_proxy::scram::ct_eq;
use iamwire_proxy::{Cx, SessionError, UpstreamConn};

use super::io::send_frontend;
use super::upstream::connect;
use super::{CancelTarget, Result};
use crate::codec::{CancelRequest, FrontendMessage};

/// Forward `request` if it carries the key of the session it names; drop it silently otherwise (as
/// PostgreSQL does: a cancel never gets an answer).
pub(super) async fn forward(
    cx: &Cx<'_, CancelTarget>,
    target: Option<CancelTarget>,
    request: CancelRequest,
) -> Result<()> {
    let Some(target) =
        target.filter(|t| ct_eq(request.secret_key.expose(), t.client_secret.expose()))
    else {
        tracing::debug!("dropping a cancel request with an unknown key");
        return Ok(());
    };
    let addr = cx.endpoint.addr().to_owned();
    let tcp = cx
        .dialer
        .dial(cx.endpoint)
        .await
        .map_err(|source| SessionError::Connect { addr, source })?;
    let mut upstream: UpstreamConn = connect(cx, tcp).await?;
    send_frontend(
        &mut upstream,
        &FrontendMessage::CancelRequest(CancelRequest {
            process_id: target.upstream.process_id,
            secret_key: target.upstream.secret_key.clone(),
        }),
    )
    .await?;
    // Wait for the server to close, so the cancel has been read before we hang up.
    while upstream.fill().await.is_ok() {
        upstream.buf.clear();
    }
    tracing::debug!("forwarded a cancel request");
    Ok(())
}
