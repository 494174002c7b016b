//! The benchmark's ceiling (`make bench`): a plain axum server that answers
//! each of a few paths with bytes held in memory, nothing else. What a
//! route of cheeseshop serves divided by what this serves for the very
//! same bytes, on the same machine, is the share of the machine's
//! HTTP-serving capacity the route reaches.
//!
//! Usage: `ceiling ADDR PATH=FILE=CONTENT-TYPE...`

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::routing::get;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().ok_or("usage: ceiling ADDR PATH=FILE=TYPE...")?.parse()?;
    let mut router = Router::new();
    for spec in args {
        let mut parts = spec.splitn(3, '=');
        let (Some(path), Some(file), Some(content_type)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("not PATH=FILE=TYPE: {spec}").into());
        };
        let body = Bytes::from(std::fs::read(file)?);
        let content_type = HeaderValue::from_str(content_type)?;
        router = router.route(
            path,
            get(move || {
                let (body, content_type) = (body.clone(), content_type.clone());
                async move { ([(header::CONTENT_TYPE, content_type)], body) }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // As cheeseshop serves: TCP_NODELAY on every connection.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router).await?;
    Ok(())
}
