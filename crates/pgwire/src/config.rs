//! The server's settings, as read from the `[server]` table of a TOML configuration file.
//! The command line and environment variables override single fields (see `zicht serve --help`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use zicht_engine::AccessLevel;

use crate::scram::ScramVerifier;

/// 16 MiB: a statement at the engine's length limit (1 MiB) with room for large parameters.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; loopback unless configured otherwise.
    pub listen: IpAddr,
    pub port: u16,
    /// Connections beyond this get SQLSTATE 53300, as PostgreSQL's `max_connections`.
    pub max_connections: usize,
    /// Default `statement_timeout` of every connection; none when absent. Clients may `SET` it.
    #[serde(deserialize_with = "optional_duration")]
    pub statement_timeout: Option<Duration>,
    /// How long running queries may go on after SIGTERM/SIGINT before connections are closed.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    /// How long a client may take from connecting to being logged in (PostgreSQL's
    /// `authentication_timeout`); then the connection is closed and its slot freed.
    #[serde(deserialize_with = "duration")]
    pub authentication_timeout: Duration,
    /// The largest message a client may send, in bytes (PostgreSQL allows 1 GiB). A longer one
    /// gets FATAL 08P01 before it is read. Statements have their own, smaller, limit (the
    /// engine's `StatementLimits`).
    pub max_message_bytes: usize,
    pub tls: Option<TlsConfig>,
    /// Users who may log in with SCRAM-SHA-256. With none, any user name is accepted without a
    /// password, which the server allows only on a loopback address.
    pub users: Vec<UserConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 5433,
            max_connections: 100,
            statement_timeout: None,
            shutdown_grace: Duration::from_secs(30),
            authentication_timeout: Duration::from_secs(60),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            tls: None,
            users: Vec::new(),
        }
    }
}

impl ServerConfig {
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.port)
    }

    /// Settings that would expose the warehouse are refused before the server starts.
    pub fn check(&self) -> Result<(), String> {
        if self.users.is_empty() && !self.listen.is_loopback() {
            return Err(format!(
                "refusing to listen on {} without users: configure [[server.users]] with SCRAM verifiers (zicht passwd), or listen on 127.0.0.1",
                self.listen
            ));
        }
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        if !(1024..=i32::MAX as usize).contains(&self.max_message_bytes) {
            return Err("max_message_bytes must be between 1024 and 2147483647".into());
        }
        let mut names: Vec<&str> = self.users.iter().map(|u| u.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("user {} is configured twice", pair[0]));
        }
        Ok(())
    }

    /// The access level of a logged-in user: untrusted unless the configuration says otherwise
    /// (and always untrusted without configured users).
    pub fn access_level(&self, user: &str) -> AccessLevel {
        self.users.iter().find(|u| u.name == user).map_or(AccessLevel::Untrusted, |u| u.access)
    }

    pub fn verifier(&self, user: &str) -> Option<&ScramVerifier> {
        self.users.iter().find(|u| u.name == user).map(|u| &u.scram_verifier)
    }

    pub fn requires_password(&self) -> bool {
        !self.users.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain.
    pub cert: PathBuf,
    /// PEM file with the private key.
    pub key: PathBuf,
    /// Refuse clients that do not negotiate TLS (the default: fail closed).
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, from `zicht passwd`.
    #[serde(deserialize_with = "verifier")]
    pub scram_verifier: ScramVerifier,
    /// `"untrusted"` (the default) or `"trusted"`: see docs/suppression.md.
    #[serde(default, deserialize_with = "access")]
    pub access: AccessLevel,
}

fn access<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AccessLevel, D::Error> {
    let text = String::deserialize(deserializer)?;
    AccessLevel::parse(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("access {text:?} is neither \"untrusted\" nor \"trusted\"")))
}

fn verifier<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ScramVerifier, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

fn optional_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    let parsed = humantime::parse_duration(&text).map_err(serde::de::Error::custom)?;
    Ok((!parsed.is_zero()).then_some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_beyond_loopback_needs_users() {
        let mut config = ServerConfig::default();
        assert!(config.check().is_ok());
        config.listen = "0.0.0.0".parse().unwrap();
        assert!(config.check().unwrap_err().contains("without users"));
        let user = UserConfig {
            name: "a".into(),
            scram_verifier: ScramVerifier::impossible(),
            access: AccessLevel::Untrusted,
        };
        config.users.push(user.clone());
        assert!(config.check().is_ok());
        config.users.push(user);
        assert!(config.check().unwrap_err().contains("twice"));
    }
}

#[cfg(test)]
mod access_tests {
    use super::*;

    #[test]
    fn users_are_untrusted_unless_configured_otherwise() {
        let verifier = ScramVerifier::from_password("secret", 4096).to_string();
        let text = format!(
            "[[users]]\nname = \"analist\"\nscram_verifier = \"{verifier}\"\n\
             [[users]]\nname = \"onderzoeker\"\nscram_verifier = \"{verifier}\"\naccess = \"trusted\"\n"
        );
        let config: ServerConfig = toml::from_str(&text).unwrap();
        assert_eq!(config.access_level("analist"), AccessLevel::Untrusted);
        assert_eq!(config.access_level("onderzoeker"), AccessLevel::Trusted);
        assert_eq!(config.access_level("someone"), AccessLevel::Untrusted);
        let wrong = text.replace("\"trusted\"", "\"admin\"");
        assert!(toml::from_str::<ServerConfig>(&wrong).unwrap_err().to_string().contains("neither"));
    }
}
