//! SCRAM-SHA-256 (RFC 5802, RFC 7677) against stored verifiers.
//!
//! The configuration holds verifiers in PostgreSQL's own format
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as in `pg_authid`), never
//! passwords or salted passwords: someone who reads the configuration can check a guess but cannot
//! log in with what they read. pgwire's SCRAM handler needs the salted password, which is
//! password-equivalent, so the exchange is done here.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::{digest, hmac, pbkdf2};

/// PostgreSQL's default iteration count.
pub const DEFAULT_ITERATIONS: u32 = 4096;
const KEY_LEN: usize = 32;
const MECHANISM: &str = "SCRAM-SHA-256";

/// What a server stores about a password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramVerifier").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "not a SCRAM-SHA-256 verifier ({0}); expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, as printed by `zicht passwd`"
)]
pub struct VerifierParseError(&'static str);

impl ScramVerifier {
    /// A verifier for `password` with a fresh random salt.
    pub fn from_password(password: &str, iterations: u32) -> ScramVerifier {
        let salt: [u8; 16] = rand::random();
        Self::from_password_and_salt(password, &salt, iterations)
    }

    fn from_password_and_salt(password: &str, salt: &[u8], iterations: u32) -> ScramVerifier {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        ScramVerifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// A verifier no password matches, used for unknown users so that a wrong user name and a
    /// wrong password look the same to the client.
    pub fn impossible() -> ScramVerifier {
        ScramVerifier {
            iterations: DEFAULT_ITERATIONS,
            salt: rand::random::<[u8; 16]>().to_vec(),
            stored_key: rand::random(),
            server_key: rand::random(),
        }
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{MECHANISM}${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }
}

impl FromStr for ScramVerifier {
    type Err = VerifierParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rest = text.strip_prefix("SCRAM-SHA-256$").ok_or(VerifierParseError("wrong prefix"))?;
        let (params, keys) = rest.split_once('$').ok_or(VerifierParseError("missing keys"))?;
        let (iterations, salt) = params.split_once(':').ok_or(VerifierParseError("missing salt"))?;
        let (stored, server) = keys.split_once(':').ok_or(VerifierParseError("missing server key"))?;
        let iterations: u32 = iterations.parse().map_err(|_| VerifierParseError("bad iteration count"))?;
        if iterations == 0 {
            return Err(VerifierParseError("zero iterations"));
        }
        let decode = |s: &str, what| BASE64.decode(s).map_err(|_| VerifierParseError(what));
        let key = |s: &str, what| -> Result<[u8; KEY_LEN], VerifierParseError> {
            decode(s, what)?.try_into().map_err(|_| VerifierParseError(what))
        };
        Ok(ScramVerifier {
            iterations,
            salt: decode(salt, "bad salt")?,
            stored_key: key(stored, "bad StoredKey")?,
            server_key: key(server, "bad ServerKey")?,
        })
    }
}

/// Why an exchange failed. The client only ever hears "password authentication failed".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding is not supported")]
    ChannelBinding,
    #[error("wrong proof")]
    WrongProof,
}

/// The server side of one exchange, after the client's first message.
#[derive(Debug)]
pub struct ServerExchange {
    verifier: ScramVerifier,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ServerExchange {
    /// Reads `client-first-message` and answers with `server-first-message`.
    pub fn start(client_first: &str, verifier: ScramVerifier) -> Result<(ServerExchange, String), ScramError> {
        let (gs2_header, client_first_bare) = split_gs2_header(client_first)?;
        let client_nonce = attribute(client_first_bare, 'r').ok_or(ScramError::Malformed("no client nonce"))?;
        if client_nonce.is_empty() || !client_nonce.chars().all(|c| c.is_ascii_graphic() && c != ',') {
            return Err(ScramError::Malformed("bad client nonce"));
        }
        let server_nonce = BASE64.encode(rand::random::<[u8; 18]>());
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={}", BASE64.encode(&verifier.salt), verifier.iterations);
        let exchange = ServerExchange {
            verifier,
            gs2_header: gs2_header.to_string(),
            client_first_bare: client_first_bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok((exchange, server_first))
    }

    /// Checks `client-final-message`; on success returns `server-final-message` (`v=...`), which
    /// proves to the client that the server knows the verifier too.
    pub fn finish(self, client_final: &str) -> Result<String, ScramError> {
        let (without_proof, proof) = client_final.rsplit_once(",p=").ok_or(ScramError::Malformed("no proof"))?;
        let binding = attribute(without_proof, 'c').ok_or(ScramError::Malformed("no channel binding"))?;
        if binding != BASE64.encode(&self.gs2_header) {
            return Err(ScramError::Malformed("channel binding does not match"));
        }
        if attribute(without_proof, 'r') != Some(self.nonce.as_str()) {
            return Err(ScramError::Malformed("nonce does not match"));
        }
        let proof = BASE64.decode(proof).map_err(|_| ScramError::Malformed("proof is not base64"))?;
        if proof.len() != KEY_LEN {
            return Err(ScramError::Malformed("proof has the wrong length"));
        }
        let auth_message = format!("{},{},{}", self.client_first_bare, self.server_first, without_proof);
        let client_signature = hmac_sha256(&self.verifier.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(client_signature).map(|(p, s)| p ^ s).collect();
        let stored_key = sha256(&client_key);
        if !same_bytes(&stored_key, &self.verifier.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac_sha256(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(server_signature)))
    }
}

/// The only mechanism offered: no channel binding (`-PLUS`), so TLS clients that insist on it
/// must be configured to prefer it rather than require it.
pub fn mechanisms() -> Vec<String> {
    vec![MECHANISM.to_string()]
}

pub fn is_supported(mechanism: &str) -> bool {
    mechanism == MECHANISM
}

fn split_gs2_header(message: &str) -> Result<(&str, &str), ScramError> {
    // gs2-header = cbind-flag "," [authzid] ","
    let mut parts = message.splitn(3, ',');
    let flag = parts.next().ok_or(ScramError::Malformed("empty message"))?;
    let authzid = parts.next().ok_or(ScramError::Malformed("no gs2 header"))?;
    let bare = parts.next().ok_or(ScramError::Malformed("no client-first-bare"))?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed("bad channel-binding flag")),
    }
    let header_len = flag.len() + authzid.len() + 2;
    Ok((&message[..header_len], bare))
}

fn attribute(message: &str, name: char) -> Option<&str> {
    message.split(',').find_map(|part| part.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
}

/// Compares without stopping at the first difference, so timing tells nothing about the key.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    // RFC 5802 normalises with SASLprep; like PostgreSQL, fall back to the raw bytes when the
    // password is not valid for it.
    let normalized = stringprep::saslprep(password).map(|p| p.into_owned()).unwrap_or_else(|_| password.to_string());
    let mut out = [0u8; KEY_LEN];
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, normalized.as_bytes(), &mut out);
    out
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; KEY_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, message);
    tag.as_ref().try_into().expect("SHA-256 tags are 32 bytes")
}

fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    digest::digest(&digest::SHA256, data).as_ref().try_into().expect("SHA-256 digests are 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client side, as libpq computes it, to run whole exchanges.
    fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
        let salt = BASE64.decode(attribute(server_first, 's').unwrap()).unwrap();
        let iterations: u32 = attribute(server_first, 'i').unwrap().parse().unwrap();
        let nonce = attribute(server_first, 'r').unwrap();
        let salted = salted_password(password, &salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hmac_sha256(&sha256(&client_key), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    fn exchange(password_stored: &str, password_given: &str) -> Result<String, ScramError> {
        let verifier = ScramVerifier::from_password(password_stored, 4096);
        let bare = "n=,r=rOprNGfwEbeRWgbNEkqO";
        let (exchange, server_first) = ServerExchange::start(&format!("n,,{bare}"), verifier)?;
        exchange.finish(&client_final(password_given, bare, &server_first))
    }

    #[test]
    fn the_right_password_passes_and_the_server_proves_itself() {
        let server_final = exchange("geheim wachtwoord", "geheim wachtwoord").unwrap();
        assert!(server_final.starts_with("v="));
    }

    #[test]
    fn a_wrong_password_fails() {
        assert_eq!(exchange("geheim", "Geheim"), Err(ScramError::WrongProof));
    }

    #[test]
    fn the_rfc_7677_example_verifier_accepts_its_password() {
        // RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096.
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = ScramVerifier::from_password_and_salt("pencil", &salt, 4096);
        let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let (mut exchange, _) = ServerExchange::start(&format!("n,,{bare}"), verifier).unwrap();
        // Replay the RFC's server nonce so its client proof applies.
        exchange.nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into();
        exchange.server_first = format!("r={},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", exchange.nonce);
        let client_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert_eq!(exchange.finish(client_final).unwrap(), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn verifiers_round_trip_through_text() {
        let verifier = ScramVerifier::from_password("x", 4096);
        let text = verifier.to_string();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"));
        assert_eq!(text.parse::<ScramVerifier>().unwrap(), verifier);
        assert!("md5abc".parse::<ScramVerifier>().is_err());
        assert!("SCRAM-SHA-256$0:AAAA$AAAA:AAAA".parse::<ScramVerifier>().is_err());
    }

    #[test]
    fn malformed_and_channel_bound_messages_are_refused() {
        let verifier = ScramVerifier::impossible();
        assert_eq!(
            ServerExchange::start("p=tls-server-end-point,,n=,r=abc", verifier.clone()).unwrap_err(),
            ScramError::ChannelBinding
        );
        assert!(ServerExchange::start("garbage", verifier.clone()).is_err());
        let (exchange, _) = ServerExchange::start("n,,n=,r=abc", verifier).unwrap();
        assert!(exchange.finish("c=biws,r=wrong,p=AAAA").is_err());
    }
}
