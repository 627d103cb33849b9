//! The user's handler as rmcp's serve loop sees it: what rmcp's own HTTP service adds around
//! a handler (version negotiation for `initialize`), and a signal when a notification has
//! been handled, so a notification-only request knows when it is done.

use std::borrow::Cow;

use futures_channel::mpsc::UnboundedSender;
use rmcp::model::{ClientNotification, ClientRequest, ProtocolVersion, ServerConfig, ServerResult};
use rmcp::service::{NotificationContext, RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, Service};

pub(crate) struct Served<H> {
    pub(crate) handler: H,
    pub(crate) handled: UnboundedSender<()>,
}

impl<H: ServerHandler> Service<RoleServer> for Served<H> {
    async fn handle_request(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        {
            let requested = match &request {
                ClientRequest::InitializeRequest(initialize) => {
                    Some(initialize.params.protocol_version.clone())
                }
                _ => None,
            };
            let mut result = Service::handle_request(&self.handler, request, context).await?;
            if let (Some(requested), ServerResult::InitializeResult(initialized)) =
                (requested, &mut result)
            {
                initialized.protocol_version = negotiate(
                    &requested,
                    initialized.protocol_version.clone(),
                    &Service::supported_protocol_versions(&self.handler),
                )?;
            }
            Ok(result)
        }
    }

    async fn handle_notification(
        &self,
        notification: ClientNotification,
        context: NotificationContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        {
            let result = Service::handle_notification(&self.handler, notification, context).await;
            let _ = self.handled.unbounded_send(());
            result
        }
    }

    fn get_info(&self) -> ServerConfig {
        Service::get_info(&self.handler)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Service::supported_protocol_versions(&self.handler)
    }
}

/// The version `initialize` agrees to: the client's when the server speaks it, else the
/// handler's own, else the newest the server supports that still has `initialize`.
fn negotiate(
    requested: &ProtocolVersion,
    preferred: ProtocolVersion,
    supported: &[ProtocolVersion],
) -> Result<ProtocolVersion, ErrorData> {
    if requested.has_initialize() && supported.contains(requested) {
        return Ok(requested.clone());
    }
    if preferred.has_initialize() {
        return Ok(preferred);
    }
    supported
        .iter()
        .filter(|version| version.has_initialize())
        .max_by(|a, b| a.as_str().cmp(b.as_str()))
        .cloned()
        .ok_or_else(|| ErrorData::unsupported_protocol_version(requested.clone(), supported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialize_agrees_to_the_clients_version_when_it_can() {
        let supported = ProtocolVersion::KNOWN_VERSIONS;
        let agreed = negotiate(
            &ProtocolVersion::V_2025_06_18,
            ProtocolVersion::V_2025_11_25,
            supported,
        )
        .unwrap();
        assert_eq!(agreed, ProtocolVersion::V_2025_06_18);
    }

    #[test]
    fn initialize_never_agrees_to_a_version_without_it() {
        let supported = [ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25];
        let agreed = negotiate(
            &ProtocolVersion::V_2026_07_28,
            ProtocolVersion::V_2026_07_28,
            &supported,
        )
        .unwrap();
        assert_eq!(agreed, ProtocolVersion::V_2025_11_25);
        let none = negotiate(
            &ProtocolVersion::V_2026_07_28,
            ProtocolVersion::V_2026_07_28,
            &[ProtocolVersion::V_2026_07_28],
        );
        assert!(none.is_err());
    }
}
