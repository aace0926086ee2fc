//! A JSON body extractor whose errors say which field is wrong: malformed
//! JSON is 400, well-formed JSON of the wrong shape is 422 with the field.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::PayloadError;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::MAX_BODY;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.trim_start().starts_with("application/json"));
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::BadRequest {
                    message: "the body must be JSON (Content-Type: application/json)".into(),
                    field: None,
                });
            }
            let bytes = body.await.map_err(|e| match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => ApiError::PayloadTooLarge(MAX_BODY),
                _ => ApiError::BadRequest {
                    message: format!("cannot read the body: {e}"),
                    field: None,
                },
            })?;
            parse(&bytes).map(ApiJson)
        })
    }
}

/// An empty body reads as `{}`, so actions without parameters need none.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(slice);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let field = if path == "." {
                    missing_field(&message).unwrap_or("body").to_string()
                } else {
                    path
                };
                ApiError::invalid(field, strip_position(&message))
            }
            _ => ApiError::BadRequest {
                message: format!("malformed JSON: {inner}"),
                field: None,
            },
        }
    })
}

/// serde says "missing field `subject`": the field is the one in backticks.
fn missing_field(message: &str) -> Option<&str> {
    message.split('`').nth(1)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Req {
        subject: String,
        inner: Option<Inner>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: i64,
    }

    #[test]
    fn names_the_field() {
        match parse::<Req>(br#"{"subject": 3}"#) {
            Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "subject"),
            other => panic!("{other:?}"),
        }
        match parse::<Req>(br#"{}"#) {
            Err(ApiError::Invalid { field, message }) => {
                assert_eq!(field, "subject");
                assert!(message.contains("missing field"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match parse::<Req>(br#"{"subject": "x", "inner": {"n": "one"}}"#) {
            Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "inner.n"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse::<Req>(b"{not json"),
            Err(ApiError::BadRequest { .. })
        ));
    }
}
