//! The watch stream: splits the response body into frames and decodes them.
//! Accepts grpc-gateway's newline-delimited JSON
//! (`{"result":{"type":"ADDED","application":{…}}}`) and the
//! `text/event-stream` framing (`data: {…}` lines, `:` keepalives).

use std::time::Duration;

use serde::Deserialize;

use super::error::RequestError;
use super::model::AppStatus;

/// Kubernetes watch event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType {
    /// Initial state, or an application that appeared.
    Added,
    /// A change.
    Modified,
    /// The application was deleted.
    Deleted,
    /// Anything else (`BOOKMARK`, `ERROR`, …), kept verbatim.
    Other(String),
}

/// One decoded `result` frame.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// `result.type`.
    pub kind: EventType,
    /// `result.application`, parsed.
    pub status: AppStatus,
}

/// One decoded frame of the stream.
#[derive(Debug, Clone)]
pub enum Frame {
    /// `{"result":{…}}`.
    Event(Box<WatchEvent>),
    /// `{"error":{…}}`: the server gave up on the stream.
    Error {
        /// `grpc_code`.
        grpc_code: i32,
        /// `http_code`.
        http_code: i32,
        /// `message`.
        message: String,
    },
}

#[derive(Deserialize)]
struct RawFrame {
    result: Option<RawResult>,
    error: Option<RawStreamError>,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    application: serde_json::Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStreamError {
    grpc_code: i32,
    http_code: i32,
    message: String,
}

/// Incremental line splitter and frame decoder.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, skipping blank lines, SSE keepalives and SSE
    /// fields other than `data`. `None` until a full line has arrived.
    pub fn next_frame(&mut self) -> Option<Result<Frame, serde_json::Error>> {
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = trim_ascii(&line[..line.len() - 1]);
            if let Some(payload) = json_payload(line) {
                return Some(decode_frame(payload));
            }
        }
        None
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// The JSON part of a line, or `None` for lines that carry no frame.
fn json_payload(line: &[u8]) -> Option<&[u8]> {
    if line.is_empty() || line.starts_with(b":") {
        return None;
    }
    if let Some(rest) = line.strip_prefix(b"data:") {
        let rest = rest.trim_ascii();
        return (!rest.is_empty()).then_some(rest);
    }
    // Other SSE fields (`event:`, `id:`, `retry:`) carry no payload.
    if line.first() != Some(&b'{') {
        return None;
    }
    Some(line)
}

fn decode_frame(payload: &[u8]) -> Result<Frame, serde_json::Error> {
    let raw: RawFrame = serde_json::from_slice(payload)?;
    if let Some(err) = raw.error {
        return Ok(Frame::Error {
            grpc_code: err.grpc_code,
            http_code: err.http_code,
            message: err.message,
        });
    }
    let result = raw.result.unwrap_or(RawResult {
        kind: String::new(),
        application: serde_json::Value::Null,
    });
    let kind = match result.kind.as_str() {
        "ADDED" => EventType::Added,
        "MODIFIED" => EventType::Modified,
        "DELETED" => EventType::Deleted,
        other => EventType::Other(other.to_owned()),
    };
    Ok(Frame::Event(Box::new(WatchEvent {
        kind,
        status: AppStatus::from_value(result.application)?,
    })))
}

/// An open watch stream.
#[derive(Debug)]
pub struct WatchStream {
    url: String,
    response: reqwest::Response,
    decoder: FrameDecoder,
    idle: Duration,
}

impl WatchStream {
    pub(crate) fn new(url: String, response: reqwest::Response, idle: Duration) -> Self {
        Self {
            url,
            response,
            decoder: FrameDecoder::new(),
            idle,
        }
    }

    /// The next event; `Ok(None)` when the server closed the stream. A
    /// mid-stream `{"error":…}` frame becomes [`RequestError::Stream`].
    pub async fn next_event(&mut self) -> Result<Option<WatchEvent>, RequestError> {
        loop {
            match self.decoder.next_frame() {
                Some(Ok(Frame::Event(ev))) => return Ok(Some(*ev)),
                Some(Ok(Frame::Error {
                    grpc_code,
                    http_code,
                    message,
                })) => {
                    return Err(RequestError::Stream {
                        url: self.url.clone(),
                        grpc_code,
                        http_code,
                        message,
                    });
                }
                Some(Err(source)) => {
                    return Err(RequestError::Decode {
                        url: self.url.clone(),
                        source,
                    });
                }
                None => {}
            }
            let chunk = tokio::time::timeout(self.idle, self.response.chunk())
                .await
                .map_err(|_| RequestError::StreamIdle {
                    url: self.url.clone(),
                    idle: self.idle,
                })?
                .map_err(|source| RequestError::Transport {
                    url: self.url.clone(),
                    source,
                })?;
            match chunk {
                Some(bytes) => self.decoder.push(&bytes),
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"{"metadata":{"name":"payments-dev"},"status":{"health":{"status":"Healthy"},"sync":{"status":"Synced","revision":"abc"}}}"#;

    #[test]
    fn decodes_ndjson_split_across_chunks() {
        let frame = format!("{{\"result\":{{\"type\":\"ADDED\",\"application\":{APP}}}}}\n");
        let (a, b) = frame.as_bytes().split_at(17);
        let mut d = FrameDecoder::new();
        d.push(a);
        assert!(d.next_frame().is_none());
        d.push(b);
        match d.next_frame() {
            Some(Ok(Frame::Event(ev))) => {
                assert_eq!(ev.kind, EventType::Added);
                assert_eq!(ev.status.name, "payments-dev");
                assert_eq!(ev.status.sync.revision.as_deref(), Some("abc"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(d.next_frame().is_none());
    }

    #[test]
    fn decodes_sse_with_keepalives_and_errors() {
        let body = format!(
            ":\n\ndata: {{\"result\":{{\"type\":\"MODIFIED\",\"application\":{APP}}}}} \n\n\n:\nevent: x\ndata: {{\"error\":{{\"grpc_code\":14,\"http_code\":503,\"message\":\"gone\",\"http_status\":\"Service Unavailable\"}}}}\n\n"
        );
        let mut d = FrameDecoder::new();
        d.push(body.as_bytes());
        assert!(
            matches!(d.next_frame(), Some(Ok(Frame::Event(ev))) if ev.kind == EventType::Modified)
        );
        match d.next_frame() {
            Some(Ok(Frame::Error {
                grpc_code,
                http_code,
                message,
            })) => {
                assert_eq!((grpc_code, http_code, message.as_str()), (14, 503, "gone"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(d.next_frame().is_none());
    }
}
