//! Family 9: the secret. The promise: there is no built-in key, a generated key is random and
//! private, and a known key does not reproduce the noise.

use zicht_engine::{AccessLevel, Engine, EngineOptions};

use crate::{Attack, Family, Verdict, World, attack};

pub fn attacks() -> Vec<Attack> {
    let f = Family::Secret;
    vec![
        attack!(f, an_engine_without_a_secret),
        attack!(f, a_known_key_reproduces_the_noise),
        attack!(f, the_generated_key),
    ]
}

async fn an_engine_without_a_secret(w: &World, _level: AccessLevel) -> Verdict {
    let catalog = zicht_catalog::Catalog::embedded().unwrap();
    match Engine::open(EngineOptions::new(catalog, &w.data)).await {
        Err(error) => Verdict::Refused(format!("does not open: {}", error.sqlstate())),
        Ok(_) => Verdict::Disclosed("an engine opened with a built-in key".into()),
    }
}

/// The key earlier versions used when none was configured: with it, the noise could be computed.
async fn a_known_key_reproduces_the_noise(w: &World, level: AccessLevel) -> Verdict {
    let catalog = zicht_catalog::Catalog::embedded().unwrap();
    let options = EngineOptions::new(catalog, &w.data).with_secret_key("zicht-default-cell-key-secret-change-me");
    let guessed = Engine::open(options).await.unwrap();
    let mut same = 0;
    let years = 1950..1970;
    for year in years.clone() {
        let sql = format!("SELECT sum(inkomen) FROM basis.persoon WHERE geboortejaar = {year}");
        let ours = w.value(level, "i2", &sql).await;
        let theirs = async { guessed.session_at("i2", level).sql(&sql).await?.collect().await }.await;
        let theirs = theirs.ok().and_then(|b| b.first().map(|b| format!("{:?}", b.column(0))));
        if let (Ok(Some(ours)), Some(theirs)) = (ours, theirs) {
            same += usize::from(theirs.contains(&format!("{ours}")));
        }
    }
    if same == years.len() {
        Verdict::Disclosed("the known key reproduces every answer".into())
    } else {
        Verdict::Defended(format!("{same} of {} answers reproduced", years.len()))
    }
}

async fn the_generated_key(_w: &World, _level: AccessLevel) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    let (one, _) = zicht_engine::secret::load_or_create(&dir.path().join("a/secret-key")).unwrap();
    let (two, _) = zicht_engine::secret::load_or_create(&dir.path().join("b/secret-key")).unwrap();
    if one == two {
        return Verdict::Disclosed("two generated keys are the same".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("a/secret-key")).unwrap().permissions().mode() & 0o777;
        if mode != 0o600 {
            return Verdict::Disclosed(format!("the key file has mode {mode:o}"));
        }
    }
    Verdict::Defended("random, and readable by its owner only".into())
}
