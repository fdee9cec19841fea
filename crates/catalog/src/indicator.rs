//! Indicators: the Zicht op scoring of regions against the national picture, written once.
//!
//! An indicator file (`queries/<theme>/<name>.toml`) states only what is its own: what it counts
//! (the `teller`, numerator) per what (the `noemer`, denominator), where (gemeente, wijk or buurt)
//! and by what else (a year, an offence), and the kind of score:
//!
//! - `rate`: the teller against the Poisson expectation `noemer x NL rate`: `index`, the exact
//!   limits of the standardised ratio (`sir_onder`, `sir_boven`), `z` and `klasse`;
//! - `share`: the teller as a share of the noemer, with Wilson limits (`wilson_onder`,
//!   `wilson_boven`), a binomial `z` and `klasse` from the Wilson limits on the index scale;
//! - `amount`: an amount (a sum) per noemer: `index`, and across the regions `robuuste_z`,
//!   `percentiel` and `klasse` (hoog/laag at |robust z| >= 2), optionally a median per region
//!   and the amount per a second count.
//!
//! A rate may add an empirical-Bayes smoothed rate (`smooth`) and further tellers of the
//! noemer's rows (`[[factor]]`, one risk factor each); a rate or share may be compared with
//! another population than the noemer's own (`[reference]`) and carry further aggregates of
//! its rows (`[[profile]]`); `columns` chooses, orders and renames the output columns.
//!
//! [`Indicator::sql`] (in `indicator/sql.rs`) turns it into one SELECT with the standard
//! columns, names and rounding. The national reference is always its own aggregate over all of NL
//! (the teller's and the noemer's tables without the joins that only place a row in a region),
//! never a sum of released cells. The SELECT is served as a view like any saved query and passes
//! the suppression layer like any other SQL: an indicator has no exemption.

use serde::Deserialize;

mod sql;

/// An indicator definition as it is written (`queries/<theme>/<name>.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub title: String,
    pub description: String,
    pub unit: String,
    /// How the rows are cut, as the catalogue says it (`gemeente-jaar`, `feit-gemeente-jaar`).
    pub granularity: String,
    pub years: String,
    /// The regional level the rows are scored at.
    pub level: Level,
    /// Further keys of a row besides its region (`a.jaar`, `CAST(...) AS jaar`): the teller is
    /// counted and compared with NL per key. The noemer is cut by them too when the teller is
    /// counted in the noemer's rows; otherwise it is the region's whole noemer.
    #[serde(default)]
    pub by: Vec<String>,
    pub score: Score,
    /// For a rate: per how many of the noemer the rate is shown (1000: per 1.000 inwoners). A
    /// share is always in percent.
    pub per: Option<u32>,
    /// The name of the rate, share or amount-per-noemer column (`per_1000_inwoners`,
    /// `aandeel_kwetsbaar`, `schade_per_aangifte`); its national value is `nl_<ratio>`.
    pub ratio: String,
    /// The decimals the ratio is rounded to: for an amount required (0; -2 for hundreds), for a
    /// rate or share 2 unless said.
    pub decimals: Option<i64>,
    /// For an amount: the amount also per the teller's `count`, with its own index.
    pub per_count: Option<PerCount>,
    /// For a rate: also the empirical-Bayes smoothed rate (`<ratio>_gladgestreken`) and its index
    /// (`index_gladgestreken`), so that a small region with an extreme rate does not top the list.
    #[serde(default)]
    pub smooth: bool,
    /// For a rate whose teller is counted in the noemer's rows: further tellers of those rows
    /// (one risk factor each), each with its count, rate, NL's rate and index.
    #[serde(default)]
    pub factor: Vec<Factor>,
    /// For a rate or share whose teller is counted in the noemer's rows: the population NL's
    /// reference is counted in, when it is not the noemer's own.
    pub reference: Option<Reference>,
    /// For a rate or share whose teller is counted in the noemer's rows: further aggregates of
    /// those rows (an average age, a median income), each with NL's.
    #[serde(default)]
    pub profile: Vec<Profile>,
    /// The columns after the region's and the keys', chosen and in this order; all the standard
    /// ones unless said. A factor's name stands for its four columns; `index AS index_65plus`
    /// renames one.
    pub columns: Option<Vec<String>>,
    pub teller: Part,
    pub noemer: Part,
}

/// Another population for NL's reference (all inwoners of 16 and older, where the noemer is the
/// park residents): NL's teller is its measure over its rows that pass the teller's filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Names NL's columns of it: `nl_<ratio>_<name>`, `nl_<profile>_<name>`; `nl_<ratio>` is
    /// then NL's share or rate in the noemer's own population.
    pub name: String,
    pub measure: String,
    pub from: String,
    #[serde(rename = "where")]
    pub condition: Option<String>,
}

/// A further aggregate of the noemer's rows per region, with NL's (in the reference where there
/// is one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    /// `avg(2024 - p.geboortejaar)`, `median(p.inkomen)`: valid over the reference's rows too.
    pub measure: String,
    pub decimals: i64,
    /// The name of its index column (100 x the region's over NL's), if it has one.
    pub index: Option<String>,
}

/// A further teller of a rate, counted in the noemer's rows over those that pass its filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    /// Its count column; its others are `<name>_per_<per>`, `nl_<name>_per_<per>`, `index_<name>`.
    pub name: String,
    /// The noemer's rows it counts (`j.eerdere_detentie`).
    pub filter: String,
}

/// The regional level of an indicator's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Gemeente,
    Wijk,
    Buurt,
}

/// How a region is scored against NL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Score {
    Rate,
    Share,
    Amount,
}

/// The teller or the noemer: a released aggregate over the microdata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// Its output column (`verdachten`, `inwoners`).
    pub name: String,
    /// The aggregate (`count(*)`, `count(DISTINCT v.persoon_id)`, `sum(k.aantal_objecten)`).
    pub measure: Option<String>,
    /// The tables, with the joins the measure or the conditions need (also nationally). A
    /// teller without `from` is counted in the noemer's rows, in the same aggregate.
    pub from: Option<String>,
    /// The conditions on the rows (also nationally).
    #[serde(rename = "where")]
    pub condition: Option<String>,
    /// Joins that only place a row in its region (or describe it): regional, not national.
    pub locate: Option<String>,
    /// The row's buurt code (`p.bu_code`): its wijk and gemeente come from `regio.buurt`.
    pub buurt: Option<String>,
    /// The row's gemeente code, for a row placed in a gemeente only (`v.pleeg_gm_code`).
    pub gemeente: Option<String>,
    /// Teller of a rate or share only: the noemer's rows that count (`s.kwetsbaar`); the
    /// teller is then the noemer's measure over those rows.
    pub filter: Option<String>,
    /// Teller only: columns that describe a key of `by` (`s.omschrijving AS branche`).
    #[serde(default)]
    pub describe: Vec<String>,
    /// Teller of an amount only: a count in the teller's rows, shown before the noemer
    /// (`count(*) AS vestigingen_kwetsbaar`).
    pub count: Option<String>,
    /// Teller of an amount only: a median per region, with NL's and `index_mediaan`
    /// (`median(a.schade) AS mediaan_schade`).
    pub median: Option<String>,
}

/// An amount per the teller's count (`omzet_per_vestiging`), next to the amount per noemer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerCount {
    pub ratio: String,
    pub decimals: i64,
    /// The name of its index column (`index_per_vestiging`).
    pub index: String,
}

impl Indicator {
    /// Reads and checks a definition; the message says what is wrong.
    pub fn parse(text: &str) -> Result<Indicator, String> {
        let indicator: Indicator = toml::from_str(text).map_err(|e| crate::raw::one_line(text, &e))?;
        indicator.check()?;
        Ok(indicator)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        for (key, value) in [
            ("title", &self.title),
            ("description", &self.description),
            ("unit", &self.unit),
            ("granularity", &self.granularity),
            ("years", &self.years),
            ("ratio", &self.ratio),
            ("teller.name", &self.teller.name),
            ("noemer.name", &self.noemer.name),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{key} is empty"));
            }
        }
        self.check_score_options()?;
        sql::Source::of(&self.noemer, "noemer", self.level)?;
        let noemer = &self.noemer;
        if noemer.filter.is_some() || !noemer.describe.is_empty() || noemer.count.is_some() || noemer.median.is_some() {
            return Err("noemer: filter, describe, count and median belong to the teller".into());
        }
        self.check_teller()?;
        self.check_factors()?;
        self.output_columns().map(|_| ())
    }

    /// Each kind of score takes its own options and no others.
    fn check_score_options(&self) -> Result<(), String> {
        let amount = self.score == Score::Amount;
        match self.score {
            Score::Rate if self.per.is_none() => Err("a rate needs per (1000: per 1.000 of the noemer)".into()),
            Score::Share | Score::Amount if self.per.is_some() => {
                Err("per belongs to a rate (a share is in percent, an amount per noemer)".into())
            }
            Score::Amount if self.decimals.is_none() => Err("an amount needs decimals (0: whole euros)".into()),
            _ if !amount && self.per_count.is_some() => Err("per_count belongs to an amount".into()),
            Score::Share | Score::Amount if self.smooth || !self.factor.is_empty() => {
                Err("smooth and factor belong to a rate".into())
            }
            Score::Amount if self.reference.is_some() || !self.profile.is_empty() => {
                Err("reference and profile belong to a rate or share".into())
            }
            _ if !amount && (self.teller.count.is_some() || self.teller.median.is_some()) => {
                Err("teller: count and median belong to an amount".into())
            }
            _ if amount && self.teller.filter.is_some() => {
                Err("teller: an amount has a measure of its own (sum(...)), not a filter".into())
            }
            _ if self.per_count.is_some() && self.teller.count.is_none() => {
                Err("per_count needs the teller's count".into())
            }
            _ => Ok(()),
        }
    }

    fn check_teller(&self) -> Result<(), String> {
        let teller = &self.teller;
        if teller.from.is_some() {
            if teller.filter.is_some() {
                return Err("teller: a filter of the noemer's rows has no from of its own".into());
            }
            return sql::Source::of(teller, "teller", self.level).map(|_| ());
        }
        // Counted in the noemer's rows: nothing of its own but what it counts.
        let own_rows = [&teller.condition, &teller.locate, &teller.buurt, &teller.gemeente];
        if own_rows.iter().any(|field| field.is_some()) || !teller.describe.is_empty() {
            return Err(
                "teller: counted in the noemer's rows, it has no where, locate, buurt, gemeente or describe of its own"
                    .into(),
            );
        }
        match (&teller.filter, &teller.measure) {
            (Some(_), Some(_)) => Err("teller: a filter of the noemer's rows has no measure of its own".into()),
            (None, None) => Err("teller: no measure, and no filter of the noemer's rows".into()),
            _ => Ok(()),
        }
    }

    /// Factors, profiles and a reference are aggregates of the noemer's rows, in the teller's
    /// aggregate; each name is a column of its own, clear of the names the SELECT uses inside.
    fn check_factors(&self) -> Result<(), String> {
        let own_rows = !self.factor.is_empty() || !self.profile.is_empty() || self.reference.is_some();
        if own_rows && (self.teller.from.is_some() || self.teller.filter.is_none()) {
            return Err("factor, profile and reference: the teller must be a filter of the noemer's rows".into());
        }
        if self.reference.is_some() && (!self.by.is_empty() || !self.factor.is_empty()) {
            return Err("reference: NL's reference population has no keys (by) and no factors".into());
        }
        let factors = self.factor.iter().map(|f| ("factor", f.name.trim(), f.filter.trim()));
        let profiles = self.profile.iter().map(|p| ("profile", p.name.trim(), p.measure.trim()));
        let reference = self.reference.iter().map(|r| ("reference", r.name.trim(), r.measure.trim()));
        let named: Vec<_> = factors.chain(profiles).chain(reference).collect();
        for (at, (what, name, text)) in named.iter().enumerate() {
            check_own_name(what, name)?;
            if text.is_empty() {
                return Err(format!("{what} {name}: no filter or measure"));
            }
            if named[..at].iter().any(|(_, earlier, _)| earlier == name) {
                return Err(format!("{what} {name}: named twice"));
            }
        }
        Ok(())
    }

    /// The deviation columns of this indicator, in output order.
    pub fn deviation(&self) -> Vec<String> {
        let columns = self.output_columns().unwrap_or_default();
        columns.into_iter().filter(|column| column.deviation).map(|column| column.name).collect()
    }
}

/// A name of lowercase letters, digits and _, clear of those the generated SELECT uses inside
/// (a reference's is a suffix of column names and may start with a digit: `16plus`).
fn check_own_name(what: &str, name: &str) -> Result<(), String> {
    let inner = ["teller", "noemer", "verwacht", "idx", "lo", "hi", "zz", "eb", "nl_p", "w_lo", "w_hi"];
    let leading = what == "reference" || name.starts_with(|c: char| c.is_ascii_lowercase());
    let valid =
        leading && !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid || inner.contains(&name) || name.starts_with("nl_") {
        return Err(format!("{what} {name:?}: a name of lowercase letters, digits and _ (not {inner:?} or nl_...)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
