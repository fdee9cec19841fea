//! The cluster token: every request between the processes of a cluster carries it, and a worker
//! refuses any request without it.
//!
//! Plan fragments and shuffles carry per-unit partial states, as sensitive as the microdata. The
//! token keeps anyone who can reach a worker's port from running fragments or reading shuffles.
//! It travels in the clear on plain TCP: on a network others share, run the cluster on a private
//! network or behind TLS (see docs/cluster.md).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result};
use datafusion_distributed::grpc::{BoxCloneSyncChannel, DefaultChannelResolver, create_worker_client};
use datafusion_distributed::{ChannelResolver, WorkerChannel};
use http::HeaderValue;
use url::Url;

/// The header that carries the token.
pub(crate) const TOKEN_HEADER: &str = "x-zicht-cluster-token";

/// Connects to workers with the token on every request.
#[derive(Clone)]
pub(crate) struct TokenChannels {
    inner: DefaultChannelResolver,
    token: HeaderValue,
}

impl TokenChannels {
    pub(crate) fn new(token: &str) -> Result<TokenChannels> {
        let token = HeaderValue::from_str(token)
            .map_err(|_| DataFusionError::Configuration("the cluster token must be printable ASCII".into()))?;
        Ok(TokenChannels { inner: DefaultChannelResolver::default(), token })
    }
}

#[async_trait]
impl ChannelResolver for TokenChannels {
    async fn get_worker_client_for_url(&self, url: &Url) -> Result<Box<dyn WorkerChannel>> {
        let channel = self.inner.get_channel(url).await?;
        let token = self.token.clone();
        let with_token = tower::ServiceBuilder::new()
            .map_request(move |mut request: http::Request<tonic::body::Body>| {
                request.headers_mut().insert(TOKEN_HEADER, token.clone());
                request
            })
            .service(channel);
        Ok(create_worker_client(BoxCloneSyncChannel::new(with_token)))
    }
}

/// A worker's check of every request: the token, compared in constant time.
#[derive(Clone)]
pub(crate) struct TokenCheck {
    token: Arc<[u8]>,
}

impl TokenCheck {
    pub(crate) fn new(token: &str) -> TokenCheck {
        TokenCheck { token: token.as_bytes().into() }
    }
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, request: tonic::Request<()>) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        let given = request.metadata().get(TOKEN_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if constant_time_eq(given, &self.token) {
            Ok(request)
        } else {
            Err(tonic::Status::unauthenticated("this worker serves only its cluster's coordinator and workers"))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    #[test]
    fn only_the_token_passes() {
        let mut check = TokenCheck::new("s3cret-token");
        let mut request = tonic::Request::new(());
        assert!(check.call(tonic::Request::new(())).is_err());
        request.metadata_mut().insert(TOKEN_HEADER, "s3cret-tokem".parse().unwrap());
        assert!(check.call(request).is_err());
        let mut request = tonic::Request::new(());
        request.metadata_mut().insert(TOKEN_HEADER, "s3cret-token".parse().unwrap());
        assert!(check.call(request).is_ok());
    }
}
