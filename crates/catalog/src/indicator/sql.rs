//! The SELECT of an indicator: regional aggregates, the national reference, the scores.

use super::{Indicator, Level, Part, Reference, Score};

/// An output column after the region's and the keys': what computes it and its name.
#[derive(Debug, Clone)]
pub(super) struct Column {
    /// `round(idx, 1)`, or a name of the scores.
    expr: String,
    pub(super) name: String,
    /// An index, interval, z or klasse: listed as a deviation column of the query.
    pub(super) deviation: bool,
    /// The factor it belongs to: naming the factor in `columns` chooses all of its columns.
    factor: Option<String>,
}

impl Column {
    fn new(expr: &str, name: &str) -> Column {
        Column { expr: expr.to_string(), name: name.to_string(), deviation: false, factor: None }
    }

    fn deviation(expr: &str, name: &str) -> Column {
        Column { deviation: true, ..Column::new(expr, name) }
    }

    /// `expr AS name`, or the bare name.
    fn sql(&self) -> String {
        if self.expr == self.name { self.name.clone() } else { format!("{} AS {}", self.expr, self.name) }
    }
}

/// How the teller finds its rows.
enum TellerRows<'a> {
    /// Tables of its own (a rate per inwoners, an amount per inwoner).
    Own(Source<'a>),
    /// The noemer's rows, in the noemer's aggregate, with this measure: the teller's own (an
    /// amount per aangifte) or the noemer's over the rows that pass a filter (a share).
    SameRows(String),
}

impl Indicator {
    /// The SELECT that computes the indicator; an error if the definition does not hold.
    pub fn sql(&self) -> Result<String, String> {
        self.check()?;
        let region = Region::of(self.level);
        let keys: Vec<Key> = self.by.iter().map(|k| Key::parse(k)).collect();
        let noemer = Source::of(&self.noemer, "noemer", self.level)?;
        let (parts, nl) = match self.teller_rows()? {
            TellerRows::SameRows(measure) => self.shared_parts(&region, &keys, &noemer, &measure),
            TellerRows::Own(teller) => self.separate_parts(&region, &keys, &teller, &noemer),
        };
        let nl = format!("nl AS (  -- national reference: its own aggregate over all of NL\n{nl}\n)");
        let mut ctes = vec![parts, nl, self.cijfers(&region, &keys)];
        // A rate's and a share's scores are a CTE of their own; an amount's are in its SELECT.
        let scored = match self.score {
            Score::Rate => Some(self.rate_scores()),
            Score::Share => Some(self.share_scores()),
            Score::Amount => None,
        };
        let from = if scored.is_some() { "scores" } else { "cijfers" };
        ctes.extend(scored);
        let select = self.select(&region, &keys, from)?;
        Ok(format!("WITH {}\n{select}", ctes.join(",\n")))
    }

    fn teller_rows(&self) -> Result<TellerRows<'_>, String> {
        if self.teller.from.is_some() {
            return Source::of(&self.teller, "teller", self.level).map(TellerRows::Own);
        }
        Ok(match (&self.teller.filter, &self.teller.measure) {
            (Some(filter), _) => TellerRows::SameRows(self.over_filtered_rows(filter)),
            (None, measure) => TellerRows::SameRows(measure.as_deref().unwrap_or_default().trim().to_string()),
        })
    }

    /// The columns that describe a key (`s.omschrijving AS branche`).
    fn described(&self) -> Vec<Key> {
        self.teller.describe.iter().map(|d| Key::parse(d)).collect()
    }

    /// The teller's further columns (an amount's count and median, a rate's factors, profiles),
    /// regionally.
    fn teller_extras(&self) -> Vec<Key> {
        let extras = [&self.teller.count, &self.teller.median].into_iter().flatten().map(|text| Key::parse(text));
        extras.chain(self.factors()).chain(self.profiles()).collect()
    }

    /// The teller's further columns NL needs: the median, the count when there is an amount
    /// per count, the factors, the profiles.
    fn national_extras(&self) -> Vec<(String, String)> {
        let count = self.teller.count.as_ref().filter(|_| self.per_count.is_some());
        [count, self.teller.median.as_ref()]
            .into_iter()
            .flatten()
            .map(|text| Key::parse(text))
            .chain(self.factors())
            .chain(self.profiles())
            .map(|key| (key.expr, format!("nl_{}", key.name)))
            .collect()
    }

    fn profiles(&self) -> impl Iterator<Item = Key> + '_ {
        self.profile.iter().map(|p| Key { expr: p.measure.trim().to_string(), name: p.name.trim().to_string() })
    }

    /// Each factor as a measure over the noemer's rows that pass its filter.
    fn factors(&self) -> impl Iterator<Item = Key> + '_ {
        self.factor
            .iter()
            .map(|factor| Key { expr: self.over_filtered_rows(&factor.filter), name: factor.name.trim().to_string() })
    }

    /// The noemer's measure over its rows that pass `filter`.
    fn over_filtered_rows(&self, filter: &str) -> String {
        filtered(self.noemer.measure.as_deref().unwrap_or_default(), filter)
    }

    /// Teller and noemer from one aggregate over the noemer's rows.
    fn shared_parts(&self, region: &Region, keys: &[Key], noemer: &Source, teller: &str) -> (String, String) {
        let extras = self.teller_extras();
        let mut measures = vec![(teller, "teller"), (noemer.measure.as_str(), "noemer")];
        measures.extend(extras.iter().map(|k| (k.expr.as_str(), k.name.as_str())));
        let bron = noemer.regional(region, keys, &[], &measures);
        let parts = format!("bron AS (\n{bron}\n)");
        let national_extras = self.national_extras();
        let extras = national_extras.iter().map(|(expr, name)| (expr.as_str(), name.as_str()));
        let Some(reference) = &self.reference else {
            let mut nl_measures = vec![(teller, "nl_teller"), (noemer.measure.as_str(), "nl_noemer")];
            nl_measures.extend(extras);
            return (parts, noemer.national(keys, &nl_measures));
        };
        (parts, self.national_in_reference(reference, noemer, keys, teller, &national_extras))
    }

    /// NL with a reference population: the score's NL (and the profiles') counted in the
    /// reference, the noemer's own NL beside it as `nl_eigen_*`.
    fn national_in_reference(
        &self,
        reference: &Reference,
        noemer: &Source,
        keys: &[Key],
        teller: &str,
        extras: &[(String, String)],
    ) -> String {
        let own = [(teller, "nl_eigen_teller"), (noemer.measure.as_str(), "nl_eigen_noemer")];
        let own = indent(&noemer.national(keys, &own), 8);
        let reference_teller = filtered(&reference.measure, self.teller.filter.as_deref().unwrap_or_default());
        let mut measures = vec![(reference_teller.as_str(), "nl_teller"), (reference.measure.trim(), "nl_noemer")];
        measures.extend(extras.iter().map(|(expr, name)| (expr.as_str(), name.as_str())));
        let condition = reference.condition.as_deref().map(str::trim);
        let population = indent(&national(reference.from.trim(), condition, &[], &measures), 8);
        let extra_columns: String = extras.iter().map(|(_, name)| format!(", r.{name}")).collect();
        format!(
            "  SELECT k.nl_eigen_teller, k.nl_eigen_noemer, r.nl_teller, r.nl_noemer{extra_columns}\n  FROM (\n{own}\n  ) k\n  CROSS JOIN (\n{population}\n  ) r"
        )
    }

    /// Teller and noemer as two aggregates, each over its own tables.
    fn separate_parts(&self, region: &Region, keys: &[Key], teller: &Source, noemer: &Source) -> (String, String) {
        let describe = self.described();
        let extras = self.teller_extras();
        let mut measures = vec![(teller.measure.as_str(), "teller")];
        measures.extend(extras.iter().map(|k| (k.expr.as_str(), k.name.as_str())));
        let teller_sql = teller.regional(region, keys, &describe, &measures);
        let noemer_sql = noemer.regional(region, &[], &[], &[(noemer.measure.as_str(), "noemer")]);
        let parts = format!("teller AS (\n{teller_sql}\n),\nnoemer AS (\n{noemer_sql}\n)");
        let national_extras = self.national_extras();
        let mut nl_measures = vec![(teller.measure.as_str(), "nl_teller")];
        nl_measures.extend(national_extras.iter().map(|(expr, name)| (expr.as_str(), name.as_str())));
        let key_columns: String = keys.iter().map(|k| format!("k.{}, ", k.name)).collect();
        let extra_columns: String = national_extras.iter().map(|(_, name)| format!(", k.{name}")).collect();
        let nl_teller = indent(&teller.national(keys, &nl_measures), 8);
        let nl_noemer = indent(&noemer.national(&[], &[(noemer.measure.as_str(), "nl_noemer")]), 8);
        let nl = format!(
            "  SELECT {key_columns}k.nl_teller, v.nl_noemer{extra_columns}\n  FROM (\n{nl_teller}\n  ) k\n  CROSS JOIN (\n{nl_noemer}\n  ) v"
        );
        (parts, nl)
    }

    /// Teller, noemer, the NL reference and what the scores start from, per row, with the
    /// region's names.
    fn cijfers(&self, region: &Region, keys: &[Key]) -> String {
        let code = region.code;
        // Teller and noemer over the same rows are one aggregate, read once. A teller of its own
        // drives the rows when there are keys (only released cells of a frequency table) and for
        // an amount (regions with a released amount); otherwise every region of the noemer is a
        // row, NULL where its teller is suppressed.
        let teller_drives = !keys.is_empty() || self.score == Score::Amount;
        let (keyed, from) = if self.teller.from.is_none() {
            ("n", "bron n".to_string())
        } else if teller_drives {
            ("t", format!("teller t\n  JOIN noemer n ON t.{code} = n.{code}"))
        } else {
            let on_keys: String = keys.iter().map(|k| format!(" AND t.{0} = n.{0}", k.name)).collect();
            ("n", format!("noemer n\n  LEFT JOIN teller t ON t.{code} = n.{code}{on_keys}"))
        };
        let nl_join = if keys.is_empty() {
            "CROSS JOIN nl".to_string()
        } else {
            let on: Vec<String> = keys.iter().map(|k| format!("nl.{0} = {keyed}.{0}", k.name)).collect();
            format!("JOIN nl ON {}", on.join(" AND "))
        };
        let key_columns = listed(keys, &format!("{keyed}."));
        let values = match self.score {
            Score::Rate | Score::Share => self.count_values(),
            Score::Amount => self.amount_values(),
        };
        format!(
            "cijfers AS (\n  SELECT {columns}{key_columns},\n         {values}\n  FROM {from}\n  {nl_join}\n  {joins}\n)",
            columns = region.columns,
            joins = region.joins,
        )
    }

    /// The alias `cijfers` reads the teller's columns from: its own aggregate `t`, or, when teller
    /// and noemer are measured over the same rows, their one aggregate `bron` as `n` (a join of
    /// `bron` to itself would compute it twice: DataFusion inlines every reference to a CTE).
    fn teller_alias(&self) -> &'static str {
        if self.teller.from.is_some() { "t" } else { "n" }
    }

    /// A rate's or share's figures: the counts, NL's and the expected teller.
    fn count_values(&self) -> String {
        let t = self.teller_alias();
        let extras: Vec<Key> = self.factors().chain(self.profiles()).collect();
        let described = listed(&self.described(), &format!("{t}."));
        let (extras, nl_extras) = (listed(&extras, &format!("{t}.")), listed(&extras, "nl.nl_"));
        let own_nl = if self.reference.is_some() { ", nl.nl_eigen_teller, nl.nl_eigen_noemer" } else { "" };
        format!(
            "{t}.teller, n.noemer{described}{extras}, nl.nl_teller, nl.nl_noemer{own_nl}{nl_extras},\n         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht"
        )
    }

    /// An amount's figures: the amount per noemer (and per count), NL's, their indices, the median.
    fn amount_values(&self) -> String {
        let t = self.teller_alias();
        let mut values = Vec::new();
        let count = self.teller.count.as_deref().map(Key::parse);
        if let Some(count) = &count {
            values.push(format!("{t}.{}", count.name));
        }
        values.push(format!("n.noemer, {t}.teller"));
        if let Some(median) = self.teller.median.as_deref().map(Key::parse) {
            values.push(format!("{t}.{0}, nl.nl_{0}", median.name));
        }
        values.push(format!("{t}.teller / n.noemer AS per_noemer"));
        values.push("nl.nl_teller / nl.nl_noemer AS nl_per_noemer".into());
        values.push(format!("deviation_index({t}.teller, n.noemer, nl.nl_teller, nl.nl_noemer) AS idx"));
        if let (Some(count), Some(_)) = (&count, &self.per_count) {
            values.push(format!("{t}.teller / {t}.{} AS per_count", count.name));
            values.push(format!("nl.nl_teller / nl.nl_{} AS nl_per_count", count.name));
            values.push(format!(
                "deviation_index({t}.teller, {t}.{0}, nl.nl_teller, nl.nl_{0}) AS idx_count",
                count.name
            ));
        }
        values.join(",\n         ")
    }

    /// The final SELECT: the region's names, the keys and the chosen columns, ordered by region.
    fn select(&self, region: &Region, keys: &[Key], from: &str) -> Result<String, String> {
        let mut lines = vec![format!("SELECT {}{}", region.names, listed(keys, ""))];
        lines.extend(self.output_columns()?.iter().map(Column::sql));
        Ok(format!("{}\nFROM {from}\nORDER BY {}{}", lines.join(",\n       "), region.order, listed(keys, "")))
    }

    /// The columns after the region's and the keys': all of the score's in the standard order,
    /// or those `columns` chooses in its order.
    pub(super) fn output_columns(&self) -> Result<Vec<Column>, String> {
        let available = match self.score {
            Score::Rate => self.rate_columns(),
            Score::Share => self.share_columns(),
            Score::Amount => self.amount_columns(),
        };
        let Some(chosen) = &self.columns else { return Ok(available) };
        let mut columns: Vec<Column> = Vec::new();
        for choice in chosen {
            let Key { expr: name, name: renamed } = Key::parse(choice);
            let of_factor: Vec<Column> = available.iter().filter(|c| c.factor == Some(name.clone())).cloned().collect();
            let mut picked = if of_factor.is_empty() {
                available.iter().filter(|c| c.name == name).cloned().collect()
            } else {
                of_factor
            };
            if picked.is_empty() {
                let names: Vec<&str> = available.iter().map(|c| c.name.as_str()).collect();
                return Err(format!("columns: this indicator has no column {name} (it has {})", names.join(", ")));
            }
            if renamed != name {
                if picked.len() > 1 {
                    return Err(format!("columns: {choice}: a factor's columns keep their names"));
                }
                picked[0].name = renamed;
            }
            if let Some(twice) = picked.iter().find(|p| columns.iter().any(|c| c.name == p.name)) {
                return Err(format!("columns: {} chosen twice", twice.name));
            }
            columns.extend(picked);
        }
        Ok(columns)
    }

    /// A rate's or share's counts: teller, noemer and the columns that describe a key.
    fn count_columns(&self) -> Vec<Column> {
        let mut columns = vec![Column::new("teller", &self.teller.name), Column::new("noemer", &self.noemer.name)];
        columns.extend(self.described().iter().map(|key| Column::new(&key.name, &key.name)));
        columns
    }

    fn decimals(&self) -> i64 {
        self.decimals.unwrap_or(2)
    }

    fn rate_columns(&self) -> Vec<Column> {
        let (per, decimals, ratio) = (self.per.unwrap_or(1000), self.decimals(), &self.ratio);
        let mut columns = self.count_columns();
        for factor in &self.factor {
            let name = factor.name.trim();
            let of_factor = [
                Column::new(name, name),
                Column::new(&format!("round({per}.0 * {name} / noemer, {decimals})"), &format!("{name}_per_{per}")),
                Column::new(
                    &format!("round({per}.0 * nl_{name} / nl_noemer, {decimals})"),
                    &format!("nl_{name}_per_{per}"),
                ),
                Column::deviation(
                    &format!("round(deviation_index({name}, noemer, nl_{name}, nl_noemer), 1)"),
                    &format!("index_{name}"),
                ),
            ];
            columns.extend(of_factor.map(|column| Column { factor: Some(name.to_string()), ..column }));
        }
        columns.push(Column::new(&format!("round({per}.0 * teller / noemer, {decimals})"), ratio));
        columns.extend(self.national_ratios(
            format!("round({per}.0 * nl_teller / nl_noemer, {decimals})"),
            format!("round({per}.0 * nl_eigen_teller / nl_eigen_noemer, {decimals})"),
        ));
        if self.smooth {
            columns.push(Column::new(&format!("round({per} * eb, {decimals})"), &format!("{ratio}_gladgestreken")));
        }
        columns.push(Column::new("round(verwacht, 1)", "verwacht"));
        columns.push(Column::deviation("round(idx, 1)", "index"));
        if self.smooth {
            columns.push(Column::deviation("round(100 * eb * nl_noemer / nl_teller, 1)", "index_gladgestreken"));
        }
        columns.extend([
            Column::deviation("round(lo, 1)", "sir_onder"),
            Column::deviation("round(hi, 1)", "sir_boven"),
            Column::deviation("round(zz, 2)", "z"),
            Column::deviation("deviation_class(idx, lo, hi)", "klasse"),
        ]);
        columns.extend(self.profile_columns());
        columns
    }

    /// NL's rate or share: the score's reference, and where that is another population, the
    /// noemer's own NL beside it.
    fn national_ratios(&self, reference: String, own: String) -> Vec<Column> {
        let ratio = &self.ratio;
        match &self.reference {
            None => vec![Column::new(&reference, &format!("nl_{ratio}"))],
            Some(population) => vec![
                Column::new(&reference, &format!("nl_{ratio}_{}", population.name.trim())),
                Column::new(&own, &format!("nl_{ratio}")),
            ],
        }
    }

    /// Each profile: the region's, NL's (in the reference population where there is one) and
    /// its index.
    fn profile_columns(&self) -> Vec<Column> {
        let suffix = self.reference.as_ref().map(|r| format!("_{}", r.name.trim())).unwrap_or_default();
        let mut columns = Vec::new();
        for profile in &self.profile {
            let (name, decimals) = (profile.name.trim(), profile.decimals);
            columns.push(Column::new(&format!("round({name}, {decimals})"), name));
            columns.push(Column::new(&format!("round(nl_{name}, {decimals})"), &format!("nl_{name}{suffix}")));
            if let Some(index) = &profile.index {
                columns.push(Column::deviation(&format!("round(100 * {name} / nl_{name}, 1)"), index.trim()));
            }
        }
        columns
    }

    fn share_columns(&self) -> Vec<Column> {
        let (decimals, ratio) = (self.decimals(), &self.ratio);
        let mut columns = self.count_columns();
        columns.extend([Column::new(&format!("round(100.0 * teller / noemer, {decimals})"), ratio)]);
        columns.extend(
            self.national_ratios(
                format!("round(100 * nl_p, {decimals})"),
                format!("round(100 * nl_eigen_p, {decimals})"),
            ),
        );
        columns.extend([
            Column::new("round(verwacht, 1)", "verwacht"),
            Column::deviation("round(idx, 1)", "index"),
            Column::deviation(&format!("round(100 * w_lo, {decimals})"), "wilson_onder"),
            Column::deviation(&format!("round(100 * w_hi, {decimals})"), "wilson_boven"),
            Column::deviation("round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2)", "z"),
            Column::deviation("deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p)", "klasse"),
        ]);
        columns.extend(self.profile_columns());
        columns
    }

    /// An amount: rounded to thousands; per noemer (and per count) against NL; the median; and
    /// where the amount per noemer lies among the regions.
    fn amount_columns(&self) -> Vec<Column> {
        let decimals = self.decimals();
        let mut columns: Vec<Column> = self
            .teller
            .count
            .as_deref()
            .map(Key::parse)
            .map(|count| Column::new(&count.name, &count.name))
            .into_iter()
            .collect();
        columns.extend([
            Column::new("noemer", &self.noemer.name),
            Column::new("round(teller, -3)", &self.teller.name),
            Column::new(&format!("round(per_noemer, {decimals})"), &self.ratio),
            Column::new(&format!("round(nl_per_noemer, {decimals})"), &format!("nl_{}", self.ratio)),
            Column::deviation("round(idx, 1)", "index"),
        ]);
        if let Some(per_count) = &self.per_count {
            let decimals = per_count.decimals;
            columns.push(Column::new(&format!("round(per_count, {decimals})"), &per_count.ratio));
            columns.push(Column::new(&format!("round(nl_per_count, {decimals})"), &format!("nl_{}", per_count.ratio)));
            columns.push(Column::deviation("round(idx_count, 1)", &per_count.index));
        }
        if let Some(median) = self.teller.median.as_deref().map(Key::parse) {
            let name = &median.name;
            columns.push(Column::new(&format!("round({name}, 0)"), name));
            columns.push(Column::new(&format!("round(nl_{name}, 0)"), &format!("nl_{name}")));
            columns.push(Column::deviation(&format!("round(100 * {name} / nl_{name}, 1)"), "index_mediaan"));
        }
        columns.extend([
            Column::deviation("round(robust_z(per_noemer) OVER (), 2)", "robuuste_z"),
            Column::deviation("round(percentile_rank(per_noemer) OVER (), 3)", "percentiel"),
            Column::deviation(
                "CASE WHEN idx IS NULL THEN NULL
            WHEN robust_z(per_noemer) OVER () >= 2 THEN 'hoog'
            WHEN robust_z(per_noemer) OVER () <= -2 THEN 'laag'
            ELSE 'rond gemiddelde' END",
                "klasse",
            ),
        ]);
        columns
    }

    /// What a share's columns start from: NL's share (and the noemer's own NL's), the index
    /// and the Wilson limits.
    fn share_scores(&self) -> String {
        let own = if self.reference.is_some() {
            "\n         CAST(nl_eigen_teller AS DOUBLE) / nl_eigen_noemer AS nl_eigen_p,"
        } else {
            ""
        };
        format!(
            "scores AS (
  SELECT *,
         CAST(nl_teller AS DOUBLE) / nl_noemer AS nl_p,{own}
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         wilson_lower(teller, noemer, 0.95) AS w_lo,
         wilson_upper(teller, noemer, 0.95) AS w_hi
  FROM cijfers
)"
        )
    }

    /// What a rate's columns start from: the index, the exact limits of the standardised ratio,
    /// z, and where smoothed the empirical-Bayes rate across the regions.
    fn rate_scores(&self) -> String {
        let smoothed = if self.smooth { ",\n         eb_rate(teller, noemer) OVER () AS eb" } else { "" };
        format!(
            "scores AS (
  SELECT *,
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         100 * sir_lower(teller, verwacht, 0.95) AS lo,
         100 * sir_upper(teller, verwacht, 0.95) AS hi,
         poisson_z(teller, verwacht) AS zz{smoothed}
  FROM cijfers
)"
        )
    }
}

/// A teller or noemer with its own tables, checked.
pub(super) struct Source<'a> {
    measure: String,
    from: &'a str,
    condition: Option<&'a str>,
    locate: Option<&'a str>,
    place: Place<'a>,
}

/// Where a row of a source lies.
enum Place<'a> {
    Buurt(&'a str),
    Gemeente(&'a str),
}

impl<'a> Source<'a> {
    pub(super) fn of(part: &'a Part, role: &str, level: Level) -> Result<Source<'a>, String> {
        let measure = part.measure.as_deref().ok_or(format!("{role}: no measure (count(*), sum(...))"))?;
        let from = part.from.as_deref().ok_or(format!("{role}: no from (the tables it counts in)"))?;
        let place = match (part.buurt.as_deref(), part.gemeente.as_deref()) {
            (Some(buurt), None) => Place::Buurt(buurt),
            (None, Some(gemeente)) if level == Level::Gemeente => Place::Gemeente(gemeente),
            (None, Some(_)) => {
                return Err(format!("{role}: a row placed in a gemeente cannot be scored per wijk or buurt"));
            }
            _ => return Err(format!("{role}: say where a row lies, by buurt or by gemeente (one of the two)")),
        };
        Ok(Source {
            measure: measure.trim().to_string(),
            from: from.trim(),
            condition: part.condition.as_deref().map(str::trim),
            locate: part.locate.as_deref().map(str::trim),
            place,
        })
    }

    /// The aggregate per region (and key), with the joins that place its rows.
    fn regional(&self, region: &Region, keys: &[Key], describe: &[Key], measures: &[(&str, &str)]) -> String {
        let (code_expr, place_join) = match self.place {
            Place::Buurt(buurt) => {
                (format!("b.{}", region.code), Some(format!("JOIN regio.buurt b ON {buurt} = b.bu_code")))
            }
            Place::Gemeente(gemeente) => (gemeente.to_string(), None),
        };
        let grouped: Vec<&Key> = keys.iter().chain(describe).collect();
        let mut select = vec![format!("{code_expr} AS {}", region.code)];
        select.extend(grouped.iter().map(|k| format!("{} AS {}", k.expr, k.name)));
        select.extend(measures.iter().map(|(measure, name)| format!("{measure} AS {name}")));
        let mut group_by = vec![code_expr.clone()];
        group_by.extend(grouped.iter().map(|k| k.expr.clone()));
        let joins: String =
            self.locate.into_iter().map(str::to_string).chain(place_join).map(|j| format!("\n  {j}")).collect();
        format!(
            "  SELECT {}\n  FROM {}{joins}{}\n  GROUP BY {}",
            select.join(",\n         "),
            self.from.replace('\n', "\n  "),
            where_clause(self.condition),
            group_by.join(", ")
        )
    }

    /// The same aggregate over all of NL: no joins that only place rows, grouped by the keys.
    fn national(&self, keys: &[Key], measures: &[(&str, &str)]) -> String {
        national(self.from, self.condition, keys, measures)
    }
}

/// An aggregate over all of NL, grouped by the keys.
fn national(from: &str, condition: Option<&str>, keys: &[Key], measures: &[(&str, &str)]) -> String {
    let mut select: Vec<String> = keys.iter().map(|k| format!("{} AS {}", k.expr, k.name)).collect();
    select.extend(measures.iter().map(|(measure, name)| format!("{measure} AS {name}")));
    let group_by = if keys.is_empty() {
        String::new()
    } else {
        let exprs: Vec<&str> = keys.iter().map(|k| k.expr.as_str()).collect();
        format!("\n  GROUP BY {}", exprs.join(", "))
    };
    let from = from.replace('\n', "\n  ");
    format!("  SELECT {}\n  FROM {from}{}{group_by}", select.join(",\n         "), where_clause(condition))
}

fn where_clause(condition: Option<&str>) -> String {
    condition.map(|c| format!("\n  WHERE {c}")).unwrap_or_default()
}

/// `measure` over the rows that pass `filter`: `count(*) FILTER (WHERE j.geen_inkomen)`.
fn filtered(measure: &str, filter: &str) -> String {
    format!("{} FILTER (WHERE {})", measure.trim(), filter.trim())
}

/// `, q.a, q.b` for the names of `keys` with the qualifier `q.` (or none): the tail of a list.
fn listed(keys: &[Key], qualifier: &str) -> String {
    keys.iter().map(|k| format!(", {qualifier}{}", k.name)).collect()
}

/// A key, describing or further column: `a.jaar` (named `jaar`) or `expression AS name`.
struct Key {
    expr: String,
    name: String,
}

impl Key {
    fn parse(text: &str) -> Key {
        let text = text.trim();
        let upper = text.to_ascii_uppercase();
        match upper.rfind(" AS ") {
            Some(at) => Key { expr: text[..at].trim().to_string(), name: text[at + 4..].trim().to_string() },
            None => Key { expr: text.to_string(), name: text.rsplit('.').next().unwrap_or(text).to_string() },
        }
    }
}

/// How rows at a level are named and ordered: their code, the region columns and joins.
struct Region {
    code: &'static str,
    columns: &'static str,
    joins: &'static str,
    names: &'static str,
    order: &'static str,
}

impl Region {
    fn of(level: Level) -> Region {
        match level {
            Level::Gemeente => Region {
                code: "gm_code",
                columns: "g.gm_code, g.gm_naam",
                joins: "JOIN regio.gemeente g ON n.gm_code = g.gm_code",
                names: "gm_code, gm_naam",
                order: "gm_code",
            },
            Level::Wijk => Region {
                code: "wk_code",
                columns: "g.gm_code, g.gm_naam, k.wk_code, k.wk_naam",
                joins: "JOIN regio.wijk k ON n.wk_code = k.wk_code\n  JOIN regio.gemeente g ON k.gm_code = g.gm_code",
                names: "gm_code, gm_naam, wk_code, wk_naam",
                order: "gm_code, wk_code",
            },
            Level::Buurt => Region {
                code: "bu_code",
                columns: "g.gm_code, g.gm_naam, u.wk_code, u.bu_code, u.bu_naam",
                joins: "JOIN regio.buurt u ON n.bu_code = u.bu_code\n  JOIN regio.gemeente g ON u.gm_code = g.gm_code",
                names: "gm_code, gm_naam, wk_code, bu_code, bu_naam",
                order: "gm_code, wk_code, bu_code",
            },
        }
    }
}

fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|line| format!("{pad}{line}")).collect::<Vec<_>>().join("\n")
}
