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
    /// For an amount: the decimals the amount per noemer is rounded to (0; -2 for hundreds).
    pub decimals: Option<i64>,
    /// For an amount: the amount also per the teller's `count`, with its own index.
    pub per_count: Option<PerCount>,
    pub teller: Part,
    pub noemer: Part,
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
        self.check_teller()
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
            _ if !amount && (self.decimals.is_some() || self.per_count.is_some()) => {
                Err("decimals and per_count belong to an amount".into())
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

    /// The deviation columns of this indicator's score, in output order.
    pub fn deviation(&self) -> Vec<String> {
        let columns: Vec<&str> = match self.score {
            Score::Rate => vec!["index", "sir_onder", "sir_boven", "z", "klasse"],
            Score::Share => vec!["index", "wilson_onder", "wilson_boven", "z", "klasse"],
            Score::Amount => {
                let per_count = self.per_count.as_ref().map(|p| p.index.as_str());
                let median = self.teller.median.as_ref().map(|_| "index_mediaan");
                let mut columns = vec!["index"];
                columns.extend(per_count.into_iter().chain(median));
                columns.extend(["robuuste_z", "percentiel", "klasse"]);
                columns
            }
        };
        columns.into_iter().map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests;
