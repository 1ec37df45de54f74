//! Twilio Access Tokens for TaskRouter's worker SDK: minted and verified.
//!
//! An Access Token is an HS256 JWT signed with an API key's secret (never the account's
//! auth token). Twilio's helper libraries write the header `typ: JWT`, `alg: HS256`,
//! `cty: twilio-fpa;v=1`, and the claims `jti` (`<API key SID>-<issued at>`), `iss` (the
//! API key SID), `sub` (the account SID), `exp`, and `grants` holding `identity` and one
//! entry per product; TaskRouter's is `task_router` with `workspace_sid`, `worker_sid`
//! and `role`. twilio-node also writes `iat`, twilio-python `nbf`; [`mint`] writes both
//! (each the issue time), so a token from here carries every claim either library does.
//!
//! Times are whole seconds since the Unix epoch and are passed in: this room reads no
//! clock. [`Verifier::verify`] accepts tokens from either library and reports each way a
//! token can fail as a [`VerifyError`] variant.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::api::sid::{self, prefix};
use crate::api::Secret;

/// The `cty` header of every Twilio Access Token.
pub const CONTENT_TYPE: &str = "twilio-fpa;v=1";
/// The helper libraries' default lifetime: one hour.
pub const DEFAULT_TTL_SECS: u64 = 60 * 60;
/// The longest lifetime Twilio accepts: 24 hours (a longer one is refused with error
/// 20157, "Expiration Time Exceeds Maximum Time Allowed").
pub const MAX_TTL_SECS: u64 = 24 * 60 * 60;
/// The role the worker SDK's agents use.
pub const WORKER_ROLE: &str = "worker";

/// An API key: its SID (`SK…`, the token's issuer) and the secret that signs.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// `SK…`
    pub sid: String,
    /// The signing secret.
    pub secret: Secret,
}

/// What a worker token grants: the `task_router` grant and the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerGrant {
    /// `grants.identity`.
    pub identity: String,
    /// `WS…`
    pub workspace_sid: String,
    /// `WK…`
    pub worker_sid: String,
    /// `worker`, `admin`, `supervisor`, …
    pub role: String,
}

/// The claims of a verified token that carries a TaskRouter grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// `jti`.
    pub jti: String,
    /// `iss`: the API key SID that signed it.
    pub issuer: String,
    /// `sub`: the account SID.
    pub account_sid: String,
    /// `iat`, when present (twilio-node writes it, twilio-python does not).
    pub issued_at: Option<u64>,
    /// `nbf`, when present (twilio-python writes it by default).
    pub not_before: Option<u64>,
    /// `exp`.
    pub expires_at: u64,
    /// `grants.identity`, when present.
    pub identity: Option<String>,
    /// `grants.task_router.workspace_sid`.
    pub workspace_sid: String,
    /// `grants.task_router.worker_sid`.
    pub worker_sid: String,
    /// `grants.task_router.role`, when present.
    pub role: Option<String>,
}

impl Claims {
    /// Seconds from `now` until the token expires (0 once it has).
    pub fn remaining_secs(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }
}

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// The lifetime is 0 or over [`MAX_TTL_SECS`].
    #[error("a token lives from 1 second to 24 hours (Twilio's limit); asked for {0} s")]
    Ttl(u64),
    /// The API key SID is not `SK` + 32 hex digits.
    #[error("the API key SID must be SK followed by 32 hex digits")]
    ApiKeySid,
    /// The account SID is not `AC` + 32 hex digits.
    #[error("the account SID must be AC followed by 32 hex digits")]
    AccountSid,
    /// A grant field is empty.
    #[error("the token's {0} must not be empty")]
    Empty(&'static str),
    /// The JWT library refused (not expected for HS256 and JSON claims).
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, not HS256, not a Twilio Access Token's header, or claims of the wrong
    /// shape.
    #[error("not a valid Access Token: {0}")]
    Malformed(String),
    /// `iss` names no API key this verifier knows.
    #[error("the token's issuer {0} is not a known API key")]
    UnknownIssuer(String),
    /// The signature does not match the issuer key's secret.
    #[error("the token's signature does not match its API key")]
    BadSignature,
    /// `exp` has passed.
    #[error("the token expired at {expired_at} (now {now})")]
    Expired {
        /// `exp`.
        expired_at: u64,
        /// The time checked at.
        now: u64,
    },
    /// `nbf` is still ahead.
    #[error("the token is not valid before {not_before} (now {now})")]
    NotYetValid {
        /// `nbf`.
        not_before: u64,
        /// The time checked at.
        now: u64,
    },
    /// `exp` lies more than 24 hours after the token's start.
    #[error("the token's lifetime exceeds 24 hours")]
    LifetimeTooLong,
    /// `sub` is another account.
    #[error("the token is for account {0}, not this one")]
    WrongAccount(String),
    /// No `grants.task_router`, or one without a workspace or worker SID.
    #[error("the token has no TaskRouter grant ({0} missing)")]
    MissingTaskRouterGrant(&'static str),
}

/// The claims as they travel (field order as written).
#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    jti: String,
    iss: String,
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    exp: u64,
    #[serde(default)]
    grants: WireGrants,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct WireGrants {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_router: Option<WireTaskRouter>,
}

/// twilio-python leaves out any field that is not set; so does this.
#[derive(Debug, Default, Serialize, Deserialize)]
struct WireTaskRouter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workspace_sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    worker_sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

/// Just the issuer, read before the signature is checked to choose the key.
#[derive(Debug, Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

/// Mint a worker's Access Token for `account_sid`, signed with `key`, issued at `now`
/// and living `ttl_secs` (1 s to 24 h).
pub fn mint(
    key: &ApiKey,
    account_sid: &str,
    grant: &WorkerGrant,
    now: u64,
    ttl_secs: u64,
) -> Result<String, MintError> {
    if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
        return Err(MintError::Ttl(ttl_secs));
    }
    if !sid::is_sid(prefix::API_KEY, &key.sid) {
        return Err(MintError::ApiKeySid);
    }
    if !sid::is_sid(prefix::ACCOUNT, account_sid) {
        return Err(MintError::AccountSid);
    }
    for (name, value) in [
        ("identity", &grant.identity),
        ("workspace SID", &grant.workspace_sid),
        ("worker SID", &grant.worker_sid),
        ("role", &grant.role),
    ] {
        if value.is_empty() {
            return Err(MintError::Empty(name));
        }
    }
    let claims = WireClaims {
        jti: format!("{}-{now}", key.sid),
        iss: key.sid.clone(),
        sub: account_sid.to_string(),
        iat: Some(now),
        nbf: Some(now),
        exp: now.saturating_add(ttl_secs),
        grants: WireGrants {
            identity: Some(grant.identity.clone()),
            task_router: Some(WireTaskRouter {
                workspace_sid: Some(grant.workspace_sid.clone()),
                worker_sid: Some(grant.worker_sid.clone()),
                role: Some(grant.role.clone()),
            }),
        },
    };
    jsonwebtoken::encode(
        &header(),
        &claims,
        &EncodingKey::from_secret(key.secret.expose().as_bytes()),
    )
    .map_err(|err| MintError::Sign(err.to_string()))
}

/// `typ: JWT`, `alg: HS256`, `cty: twilio-fpa;v=1`, in that order, as the helper
/// libraries write it.
fn header() -> Header {
    let mut header = Header::new(Algorithm::HS256);
    header.cty = Some(CONTENT_TYPE.to_string());
    header
}

/// Checks tokens for one account against its API keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    account_sid: String,
    keys: Vec<ApiKey>,
    leeway_secs: u64,
}

impl Verifier {
    /// A verifier for `account_sid` that trusts tokens signed by any of `keys`, with no
    /// clock leeway.
    pub fn new(account_sid: impl Into<String>, keys: Vec<ApiKey>) -> Verifier {
        Verifier {
            account_sid: account_sid.into(),
            keys,
            leeway_secs: 0,
        }
    }

    /// Tolerate clocks this many seconds apart when checking `exp` and `nbf`.
    pub fn with_leeway(mut self, secs: u64) -> Verifier {
        self.leeway_secs = secs;
        self
    }

    /// The claims of `token` if, at `now`, it is a well-formed Access Token signed by
    /// one of the keys, within its lifetime, for this account, with a TaskRouter grant.
    /// Checked in that order; the first failure is the one reported.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, VerifyError> {
        let token = token.trim();
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| VerifyError::Malformed(format!("header: {err}")))?;
        if header.alg != Algorithm::HS256 {
            return Err(VerifyError::Malformed(format!(
                "algorithm {:?}, not HS256",
                header.alg
            )));
        }
        if header.cty.as_deref() != Some(CONTENT_TYPE) {
            return Err(VerifyError::Malformed(format!(
                "content type (cty) is not {CONTENT_TYPE}"
            )));
        }
        let issuer = jsonwebtoken::dangerous::insecure_decode::<IssuerOnly>(token)
            .map_err(|err| VerifyError::Malformed(format!("claims: {err}")))?
            .claims
            .iss
            .ok_or_else(|| VerifyError::Malformed("no issuer (iss)".into()))?;
        let key = self
            .keys
            .iter()
            .find(|key| key.sid == issuer)
            .ok_or_else(|| VerifyError::UnknownIssuer(issuer.clone()))?;
        // Times, issuer and subject are checked below with the caller's clock and
        // typed errors; the library checks only the signature and the claims' shape.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<WireClaims>(
            token,
            &DecodingKey::from_secret(key.secret.expose().as_bytes()),
            &validation,
        )
        .map_err(|err| match err.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => VerifyError::BadSignature,
            _ => VerifyError::Malformed(format!("claims: {err}")),
        })?
        .claims;
        if now >= claims.exp.saturating_add(self.leeway_secs) {
            return Err(VerifyError::Expired {
                expired_at: claims.exp,
                now,
            });
        }
        if let Some(not_before) = claims.nbf {
            if now.saturating_add(self.leeway_secs) < not_before {
                return Err(VerifyError::NotYetValid { not_before, now });
            }
        }
        let start = claims.nbf.or(claims.iat).unwrap_or(now);
        if claims.exp.saturating_sub(start) > MAX_TTL_SECS {
            return Err(VerifyError::LifetimeTooLong);
        }
        if claims.sub != self.account_sid {
            return Err(VerifyError::WrongAccount(claims.sub));
        }
        let grant = claims
            .grants
            .task_router
            .ok_or(VerifyError::MissingTaskRouterGrant("grants.task_router"))?;
        let workspace_sid = grant.workspace_sid.filter(|s| !s.is_empty()).ok_or(
            VerifyError::MissingTaskRouterGrant("grants.task_router.workspace_sid"),
        )?;
        let worker_sid = grant.worker_sid.filter(|s| !s.is_empty()).ok_or(
            VerifyError::MissingTaskRouterGrant("grants.task_router.worker_sid"),
        )?;
        Ok(Claims {
            jti: claims.jti,
            issuer: claims.iss,
            account_sid: claims.sub,
            issued_at: claims.iat,
            not_before: claims.nbf,
            expires_at: claims.exp,
            identity: claims.grants.identity,
            workspace_sid,
            worker_sid,
            role: grant.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    const KEY: &str = "SK0123456789abcdef0123456789abcdef";
    const OTHER_KEY: &str = "SKfedcba9876543210fedcba9876543210";
    const NOW: u64 = 1_700_000_000;

    fn key() -> ApiKey {
        ApiKey {
            sid: KEY.into(),
            secret: Secret::new("key-secret"),
        }
    }

    fn grant() -> WorkerGrant {
        WorkerGrant {
            identity: "Alice".into(),
            workspace_sid: "WS0123456789abcdef0123456789abcdef".into(),
            worker_sid: "WK0123456789abcdef0123456789abcdef".into(),
            role: WORKER_ROLE.into(),
        }
    }

    fn verifier() -> Verifier {
        Verifier::new(ACCOUNT, vec![key()])
    }

    fn part(token: &str, at: usize) -> serde_json::Value {
        let text = token.split('.').nth(at).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// A token with the given header and claims, signed with `secret` (HS256).
    fn forge(header: &serde_json::Value, claims: &serde_json::Value, secret: &str) -> String {
        use hmac::Mac;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let message = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(message.as_bytes());
        format!("{message}.{}", b64.encode(mac.finalize().into_bytes()))
    }

    fn twilio_header() -> serde_json::Value {
        serde_json::json!({"typ": "JWT", "alg": "HS256", "cty": CONTENT_TYPE})
    }

    fn claims_with(change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        let token = mint(&key(), ACCOUNT, &grant(), NOW, 3600).unwrap();
        let mut claims = part(&token, 1);
        change(&mut claims);
        claims
    }

    #[test]
    fn minted_token_has_the_helper_libraries_layout() {
        let token = mint(&key(), ACCOUNT, &grant(), NOW, 3600).unwrap();
        let header = part(&token, 0);
        assert_eq!(header, twilio_header());
        let keys: Vec<&String> = header.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["typ", "alg", "cty"]);
        assert_eq!(
            part(&token, 1),
            serde_json::json!({
                "jti": format!("{KEY}-{NOW}"),
                "iss": KEY,
                "sub": ACCOUNT,
                "iat": NOW,
                "nbf": NOW,
                "exp": NOW + 3600,
                "grants": {
                    "identity": "Alice",
                    "task_router": {
                        "workspace_sid": "WS0123456789abcdef0123456789abcdef",
                        "worker_sid": "WK0123456789abcdef0123456789abcdef",
                        "role": "worker"
                    }
                }
            })
        );
        // The secret is the key, not part of the token.
        assert!(!token.contains("key-secret"));
    }

    #[test]
    fn round_trip() {
        let token = mint(&key(), ACCOUNT, &grant(), NOW, 600).unwrap();
        let claims = verifier().verify(&token, NOW + 10).unwrap();
        assert_eq!(
            claims,
            Claims {
                jti: format!("{KEY}-{NOW}"),
                issuer: KEY.into(),
                account_sid: ACCOUNT.into(),
                issued_at: Some(NOW),
                not_before: Some(NOW),
                expires_at: NOW + 600,
                identity: Some("Alice".into()),
                workspace_sid: "WS0123456789abcdef0123456789abcdef".into(),
                worker_sid: "WK0123456789abcdef0123456789abcdef".into(),
                role: Some("worker".into()),
            }
        );
        assert_eq!(claims.remaining_secs(NOW + 10), 590);
        // Several keys: the issuer picks the one.
        let other = ApiKey {
            sid: OTHER_KEY.into(),
            secret: Secret::new("other"),
        };
        let both = Verifier::new(ACCOUNT, vec![other, key()]);
        assert!(both.verify(&token, NOW).is_ok());
    }

    #[test]
    fn mint_refuses_bad_input() {
        let at = |ttl| mint(&key(), ACCOUNT, &grant(), NOW, ttl);
        assert_eq!(at(0), Err(MintError::Ttl(0)));
        assert_eq!(at(MAX_TTL_SECS + 1), Err(MintError::Ttl(MAX_TTL_SECS + 1)));
        assert!(at(MAX_TTL_SECS).is_ok());
        let bad_key = ApiKey {
            sid: "AC0123456789abcdef0123456789abcdef".into(),
            secret: Secret::new("s"),
        };
        assert_eq!(
            mint(&bad_key, ACCOUNT, &grant(), NOW, 60),
            Err(MintError::ApiKeySid)
        );
        assert_eq!(
            mint(&key(), "ACnope", &grant(), NOW, 60),
            Err(MintError::AccountSid)
        );
        let mut empty = grant();
        empty.identity.clear();
        assert_eq!(
            mint(&key(), ACCOUNT, &empty, NOW, 60),
            Err(MintError::Empty("identity"))
        );
    }

    #[test]
    fn bad_signature() {
        let token = mint(&key(), ACCOUNT, &grant(), NOW, 600).unwrap();
        let wrong = Verifier::new(
            ACCOUNT,
            vec![ApiKey {
                sid: KEY.into(),
                secret: Secret::new("not-the-secret"),
            }],
        );
        assert_eq!(wrong.verify(&token, NOW), Err(VerifyError::BadSignature));
        // Claims changed after signing.
        let forged = forge(
            &twilio_header(),
            &claims_with(|c| c["grants"]["task_router"]["role"] = "admin".into()),
            "another-secret",
        );
        assert_eq!(
            verifier().verify(&forged, NOW),
            Err(VerifyError::BadSignature)
        );
        // Same header and claims, signature of a different message.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = mint(&key(), ACCOUNT, &grant(), NOW + 1, 600).unwrap();
        let other_signature = other.rsplit('.').next().unwrap().to_string();
        parts[2] = &other_signature;
        assert_eq!(
            verifier().verify(&parts.join("."), NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn unknown_issuer() {
        let other = ApiKey {
            sid: OTHER_KEY.into(),
            secret: Secret::new("key-secret"),
        };
        let token = mint(&other, ACCOUNT, &grant(), NOW, 600).unwrap();
        assert_eq!(
            verifier().verify(&token, NOW),
            Err(VerifyError::UnknownIssuer(OTHER_KEY.into()))
        );
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let token = mint(&key(), ACCOUNT, &grant(), NOW, 600).unwrap();
        assert!(verifier().verify(&token, NOW + 599).is_ok());
        assert_eq!(
            verifier().verify(&token, NOW + 600),
            Err(VerifyError::Expired {
                expired_at: NOW + 600,
                now: NOW + 600
            })
        );
        assert_eq!(
            verifier().verify(&token, NOW - 1),
            Err(VerifyError::NotYetValid {
                not_before: NOW,
                now: NOW - 1
            })
        );
        // Leeway covers clocks a little apart, both ways.
        let lenient = verifier().with_leeway(5);
        assert!(lenient.verify(&token, NOW - 5).is_ok());
        assert!(lenient.verify(&token, NOW + 604).is_ok());
        assert!(matches!(
            lenient.verify(&token, NOW + 605),
            Err(VerifyError::Expired { .. })
        ));
    }

    #[test]
    fn lifetime_over_a_day() {
        let claims = claims_with(|c| c["exp"] = (NOW + MAX_TTL_SECS + 1).into());
        let token = forge(&twilio_header(), &claims, "key-secret");
        assert_eq!(
            verifier().verify(&token, NOW),
            Err(VerifyError::LifetimeTooLong)
        );
    }

    #[test]
    fn wrong_account() {
        let other = "ACfedcba9876543210fedcba9876543210";
        let token = mint(&key(), other, &grant(), NOW, 600).unwrap();
        assert_eq!(
            verifier().verify(&token, NOW),
            Err(VerifyError::WrongAccount(other.into()))
        );
    }

    #[test]
    fn missing_task_router_grant() {
        type Change = fn(&mut serde_json::Value);
        let cases: [(Change, &str); 3] = [
            (
                |c| {
                    c["grants"].as_object_mut().unwrap().remove("task_router");
                },
                "grants.task_router",
            ),
            (
                |c| {
                    c["grants"]["task_router"]
                        .as_object_mut()
                        .unwrap()
                        .remove("workspace_sid");
                },
                "grants.task_router.workspace_sid",
            ),
            (
                |c| c["grants"]["task_router"]["worker_sid"] = "".into(),
                "grants.task_router.worker_sid",
            ),
        ];
        for (change, missing) in cases {
            let token = forge(&twilio_header(), &claims_with(change), "key-secret");
            assert_eq!(
                verifier().verify(&token, NOW),
                Err(VerifyError::MissingTaskRouterGrant(missing))
            );
        }
        // A token with no grants at all.
        let token = forge(
            &twilio_header(),
            &claims_with(|c| {
                c.as_object_mut().unwrap().remove("grants");
            }),
            "key-secret",
        );
        assert_eq!(
            verifier().verify(&token, NOW),
            Err(VerifyError::MissingTaskRouterGrant("grants.task_router"))
        );
    }

    #[test]
    fn malformed() {
        let malformed = |token: &str| {
            matches!(
                verifier().verify(token, NOW),
                Err(VerifyError::Malformed(_))
            )
        };
        assert!(malformed(""));
        assert!(malformed("not-a-jwt"));
        assert!(malformed("a.b.c"));
        // Another algorithm, no cty, or another cty.
        let claims = claims_with(|_| {});
        let hs512 = serde_json::json!({"typ": "JWT", "alg": "HS512", "cty": CONTENT_TYPE});
        assert!(malformed(&forge(&hs512, &claims, "key-secret")));
        let none = serde_json::json!({"typ": "JWT", "alg": "none", "cty": CONTENT_TYPE});
        assert!(malformed(&forge(&none, &claims, "key-secret")));
        let plain = serde_json::json!({"typ": "JWT", "alg": "HS256"});
        assert!(malformed(&forge(&plain, &claims, "key-secret")));
        let other_cty = serde_json::json!({"typ": "JWT", "alg": "HS256", "cty": "JWT"});
        assert!(malformed(&forge(&other_cty, &claims, "key-secret")));
        // No issuer; an exp that is not a number; no jti.
        for change in [
            |c: &mut serde_json::Value| {
                c.as_object_mut().unwrap().remove("iss");
            },
            |c: &mut serde_json::Value| c["exp"] = "tomorrow".into(),
            |c: &mut serde_json::Value| {
                c.as_object_mut().unwrap().remove("jti");
            },
        ] {
            let token = forge(&twilio_header(), &claims_with(change), "key-secret");
            assert!(malformed(&token), "{token}");
        }
    }

    #[test]
    fn a_twilio_python_shaped_token_verifies() {
        // nbf and no iat, and no identity: what twilio-python writes without one.
        let claims = claims_with(|c| {
            let object = c.as_object_mut().unwrap();
            object.remove("iat");
            object["grants"].as_object_mut().unwrap().remove("identity");
        });
        let token = forge(&twilio_header(), &claims, "key-secret");
        let verified = verifier().verify(&token, NOW).unwrap();
        assert_eq!(verified.issued_at, None);
        assert_eq!(verified.not_before, Some(NOW));
        assert_eq!(verified.identity, None);
    }
}
