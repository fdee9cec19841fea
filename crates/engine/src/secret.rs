//! The cell-key secret: never built in. A program that has no configured secret makes a random one
//! on first use and keeps it in a file only its owner can read, so that the noise stays the same
//! from run to run (fresh noise per run could be averaged away).

use std::io::Write;
use std::path::Path;

use crate::error::{EngineError, Result};

/// Bytes of randomness in a generated secret.
const SECRET_BYTES: usize = 32;

/// Whether the secret file was found or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Existing,
    Created,
}

/// Reads the secret in `path`, or creates it with a fresh random secret (mode 0600). Refuses a
/// file that others may read: the secret would no longer be one.
pub fn load_or_create(path: &Path) -> Result<(String, SecretSource)> {
    let failure = |message: String| EngineError::Data { dir: path.display().to_string(), message };
    if path.exists() {
        check_private(path).map_err(failure)?;
        let text = std::fs::read_to_string(path).map_err(|e| failure(e.to_string()))?;
        let secret = text.trim().to_string();
        if secret.len() < 16 {
            return Err(failure("the secret in this file is too short (at least 16 characters)".into()));
        }
        return Ok((secret, SecretSource::Existing));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| failure(e.to_string()))?;
    }
    let secret = random_secret().map_err(|e| failure(format!("no randomness for a new secret: {e}")))?;
    write_private(path, &secret).map_err(|e| failure(e.to_string()))?;
    Ok((secret, SecretSource::Created))
}

fn random_secret() -> std::io::Result<String> {
    let mut bytes = [0u8; SECRET_BYTES];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(unix)]
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // create_new: two processes starting at once do not overwrite each other's secret.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(secret.as_bytes())
}

#[cfg(unix)]
fn check_private(path: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!("the secret file may be read by others (mode {:o}); chmod 600 it", mode & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> std::result::Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zicht/secret-key");
        let (first, source) = load_or_create(&path).unwrap();
        assert_eq!(source, SecretSource::Created);
        assert_eq!(first.len(), 2 * SECRET_BYTES);
        let (second, source) = load_or_create(&path).unwrap();
        assert_eq!((second, source), (first, SecretSource::Existing));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret-key");
        load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path).unwrap_err().to_string().contains("read by others"));
    }
}
