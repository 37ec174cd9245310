//! Framed reads and writes of handshake frames on the session's connections, in legacy framing or, once
//! v5 has switched, inside segments.

use bytes::BytesMut;
use iamwire_proxy::{ClientConn, SessionError, UpstreamConn};

use crate::codec::segment::{self, SegmentedFrames};
use crate::codec::{Frame, FrameDecoder, Limits, Malformed, Request, Response};
use crate::error::CqlError;

type Result<T> = std::result::Result<T, SessionError<CqlError>>;

/// How one side's frames travel: legacy framing, or v5 segments after the switch.
#[derive(Debug, Default)]
pub(super) struct Side {
    /// Set once this side uses v5 segments.
    pub(super) segments: Option<SegmentedFrames>,
}

impl Side {
    fn decode(
        &mut self,
        frames: &FrameDecoder,
        buf: &mut BytesMut,
    ) -> std::result::Result<Option<Frame>, Malformed> {
        match self.segments.as_mut() {
            Some(s) => s.decode(frames, buf),
            None => frames.decode(buf),
        }
    }

    /// `frame`'s wire form on this side.
    pub(super) fn wire(&self, frame: &Frame) -> std::result::Result<BytesMut, Malformed> {
        let bytes = frame.to_bytes()?;
        if self.segments.is_none() {
            return Ok(bytes);
        }
        let mut out = BytesMut::new();
        segment::encode(&bytes, &mut out);
        Ok(out)
    }

    /// Whether frame bytes were taken out of segments and not yet decoded as a whole frame.
    pub(super) fn has_partial(&self) -> bool {
        self.segments
            .as_ref()
            .is_some_and(SegmentedFrames::has_partial)
    }

    /// Switch to v5 segments.
    pub(super) fn switch_to_segments(&mut self) {
        self.segments = Some(SegmentedFrames::default());
    }
}

/// Read one client frame and decode it as a request.
pub(super) async fn read_request(
    client: &mut ClientConn,
    side: &mut Side,
    limits: &Limits,
    max_version: u8,
) -> Result<(Frame, Request)> {
    let frames = FrameDecoder::new(*limits);
    loop {
        match side.decode(&frames, &mut client.buf) {
            Ok(Some(frame)) => {
                let request = Request::decode(&frame, limits)
                    .map_err(|cause| CqlError::ClientProtocol { cause })?;
                return Ok((frame, request));
            }
            Ok(None) => {}
            Err(Malformed::Version(version)) => {
                return Err(CqlError::UnsupportedVersion {
                    version,
                    max: max_version,
                }
                .into());
            }
            Err(cause) => return Err(CqlError::ClientProtocol { cause }.into()),
        }
        client
            .fill()
            .await
            .map_err(|source| SessionError::ClientIo { source })?;
    }
}

/// Send a response frame to the client.
pub(super) async fn send_response(
    client: &mut ClientConn,
    side: &Side,
    response: &Response,
    version: u8,
    stream: i16,
) -> Result<()> {
    let bytes = side
        .wire(&response.to_frame(version, stream))
        .map_err(|cause| CqlError::ClientProtocol { cause })?;
    client
        .send(&bytes)
        .await
        .map_err(|source| SessionError::ClientIo { source })
}

/// Read one database frame and decode it as a response.
pub(super) async fn read_response(
    upstream: &mut UpstreamConn,
    side: &mut Side,
    limits: &Limits,
) -> Result<(Frame, Response)> {
    let frames = FrameDecoder::new(*limits);
    loop {
        match side.decode(&frames, &mut upstream.buf) {
            Ok(Some(frame)) => {
                let response = Response::decode(&frame, limits)
                    .map_err(|cause| CqlError::UpstreamProtocol { cause })?;
                return Ok((frame, response));
            }
            Ok(None) => {}
            Err(cause) => return Err(CqlError::UpstreamProtocol { cause }.into()),
        }
        upstream
            .fill()
            .await
            .map_err(|source| SessionError::UpstreamIo { source })?;
    }
}

/// Send a request frame to the database.
pub(super) async fn send_request(
    upstream: &mut UpstreamConn,
    side: &Side,
    request: &Request,
    version: u8,
) -> Result<()> {
    let bytes = side
        .wire(&request.to_frame(version, 0))
        .map_err(|cause| CqlError::UpstreamProtocol { cause })?;
    upstream
        .send(&bytes)
        .await
        .map_err(|source| SessionError::UpstreamIo { source })
}
