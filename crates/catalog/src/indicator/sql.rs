//! The SELECT of an indicator: regional aggregates, the national reference, the scores.

use super::{Indicator, Level, Part, Score};

/// The scores of a row: a CTE and the SELECT that rounds and names them, or a SELECT alone.
enum Scores {
    Cte { scores: String, select: String },
    Select(String),
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
        let select = match self.score {
            Score::Rate => self.rate_scores(&region, &keys),
            Score::Share => self.share_scores(&region, &keys),
            Score::Amount => self.amount_scores(&region, &keys),
        };
        // A rate's and a share's scores are a CTE of their own; an amount's are in its SELECT.
        let select = match select {
            Scores::Cte { scores, select } => {
                ctes.push(scores);
                select
            }
            Scores::Select(select) => select,
        };
        Ok(format!("WITH {}\n{select}", ctes.join(",\n")))
    }

    fn teller_rows(&self) -> Result<TellerRows<'_>, String> {
        if self.teller.from.is_some() {
            return Source::of(&self.teller, "teller", self.level).map(TellerRows::Own);
        }
        let noemer_measure = self.noemer.measure.as_deref().unwrap_or_default().trim();
        Ok(match (&self.teller.filter, &self.teller.measure) {
            (Some(filter), _) => TellerRows::SameRows(format!("{noemer_measure} FILTER (WHERE {})", filter.trim())),
            (None, measure) => TellerRows::SameRows(measure.as_deref().unwrap_or_default().trim().to_string()),
        })
    }

    /// The columns that describe a key (`s.omschrijving AS branche`).
    fn described(&self) -> Vec<Key> {
        self.teller.describe.iter().map(|d| Key::parse(d)).collect()
    }

    /// The teller's further columns (an amount's count and median), regionally.
    fn teller_extras(&self) -> Vec<Key> {
        [&self.teller.count, &self.teller.median].into_iter().flatten().map(|text| Key::parse(text)).collect()
    }

    /// The teller's further columns NL needs: the median, and the count when there is an amount
    /// per count.
    fn national_extras(&self) -> Vec<(String, String)> {
        let count = self.teller.count.as_ref().filter(|_| self.per_count.is_some());
        [count, self.teller.median.as_ref()]
            .into_iter()
            .flatten()
            .map(|text| Key::parse(text))
            .map(|key| (key.expr, format!("nl_{}", key.name)))
            .collect()
    }

    /// Teller and noemer from one aggregate over the noemer's rows.
    fn shared_parts(&self, region: &Region, keys: &[Key], noemer: &Source, teller: &str) -> (String, String) {
        let extras = self.teller_extras();
        let mut measures = vec![(teller, "teller"), (noemer.measure.as_str(), "noemer")];
        measures.extend(extras.iter().map(|k| (k.expr.as_str(), k.name.as_str())));
        let bron = noemer.regional(region, keys, &[], &measures);
        let key_names = listed(keys, "");
        let extra_names = listed(&extras, "");
        let code = region.code;
        let parts = format!(
            "bron AS (\n{bron}\n),\nteller AS (\n  SELECT {code}{key_names}, teller{extra_names} FROM bron\n),\nnoemer AS (\n  SELECT {code}{key_names}, noemer FROM bron\n)"
        );
        let national_extras = self.national_extras();
        let mut nl_measures = vec![(teller, "nl_teller"), (noemer.measure.as_str(), "nl_noemer")];
        nl_measures.extend(national_extras.iter().map(|(expr, name)| (expr.as_str(), name.as_str())));
        (parts, noemer.national(keys, &nl_measures))
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
        // A teller of its own drives the rows when there are keys (only released cells of a
        // frequency table) and for an amount (regions with a released amount); otherwise every
        // region of the noemer is a row, NULL where its teller is suppressed.
        let teller_drives = self.teller.from.is_some() && (!keys.is_empty() || self.score == Score::Amount);
        let (keyed, from) = if teller_drives {
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

    /// A rate's or share's figures: the counts, NL's and the expected teller.
    fn count_values(&self) -> String {
        let described = listed(&self.described(), "t.");
        format!(
            "t.teller, n.noemer{described}, nl.nl_teller, nl.nl_noemer,\n         CAST(n.noemer AS DOUBLE) * nl.nl_teller / nl.nl_noemer AS verwacht"
        )
    }

    /// An amount's figures: the amount per noemer (and per count), NL's, their indices, the median.
    fn amount_values(&self) -> String {
        let mut values = Vec::new();
        let count = self.teller.count.as_deref().map(Key::parse);
        if let Some(count) = &count {
            values.push(format!("t.{}", count.name));
        }
        values.push("n.noemer, t.teller".to_string());
        if let Some(median) = self.teller.median.as_deref().map(Key::parse) {
            values.push(format!("t.{0}, nl.nl_{0}", median.name));
        }
        values.push("t.teller / n.noemer AS per_noemer".into());
        values.push("nl.nl_teller / nl.nl_noemer AS nl_per_noemer".into());
        values.push("deviation_index(t.teller, n.noemer, nl.nl_teller, nl.nl_noemer) AS idx".into());
        if let (Some(count), Some(_)) = (&count, &self.per_count) {
            values.push(format!("t.teller / t.{} AS per_count", count.name));
            values.push(format!("nl.nl_teller / nl.nl_{} AS nl_per_count", count.name));
            values.push(format!("deviation_index(t.teller, t.{0}, nl.nl_teller, nl.nl_{0}) AS idx_count", count.name));
        }
        values.join(",\n         ")
    }

    /// The standard columns in front of the scores: region, keys, teller, noemer, descriptions.
    fn leading_columns(&self, region: &Region, keys: &[Key]) -> String {
        format!(
            "SELECT {}{},\n       teller AS {}, noemer AS {}{}",
            region.names,
            listed(keys, ""),
            self.teller.name,
            self.noemer.name,
            listed(&self.described(), "")
        )
    }

    fn order_by(region: &Region, keys: &[Key]) -> String {
        format!("ORDER BY {}{}", region.order, listed(keys, ""))
    }

    /// The SELECT of a rate or share: the leading columns, the ratios, the expected count, the
    /// index and the score's own columns, from the scores CTE.
    fn counted_select(&self, region: &Region, keys: &[Key], ratios: &str, deviation: &str) -> String {
        format!(
            "{leading},\n       {ratios},\n       round(verwacht, 1) AS verwacht,\n       round(idx, 1) AS index,\n       {deviation}\nFROM scores\n{order}",
            leading = self.leading_columns(region, keys),
            order = Self::order_by(region, keys),
        )
    }

    fn rate_scores(&self, region: &Region, keys: &[Key]) -> Scores {
        let per = self.per.unwrap_or(1000);
        let scores = "scores AS (
  SELECT *,
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         100 * sir_lower(teller, verwacht, 0.95) AS lo,
         100 * sir_upper(teller, verwacht, 0.95) AS hi,
         poisson_z(teller, verwacht) AS zz
  FROM cijfers
)"
        .to_string();
        let ratios = format!(
            "round({per}.0 * teller / noemer, 2) AS {ratio},
       round({per}.0 * nl_teller / nl_noemer, 2) AS nl_{ratio}",
            ratio = self.ratio
        );
        let deviation = "round(lo, 1) AS sir_onder,
       round(hi, 1) AS sir_boven,
       round(zz, 2) AS z,
       deviation_class(idx, lo, hi) AS klasse";
        let select = self.counted_select(region, keys, &ratios, deviation);
        Scores::Cte { scores, select }
    }

    fn share_scores(&self, region: &Region, keys: &[Key]) -> Scores {
        let scores = "scores AS (
  SELECT *,
         CAST(nl_teller AS DOUBLE) / nl_noemer AS nl_p,
         deviation_index(teller, noemer, nl_teller, nl_noemer) AS idx,
         wilson_lower(teller, noemer, 0.95) AS w_lo,
         wilson_upper(teller, noemer, 0.95) AS w_hi
  FROM cijfers
)"
        .to_string();
        let ratios = format!(
            "round(100.0 * teller / noemer, 2) AS {ratio},
       round(100 * nl_p, 2) AS nl_{ratio}",
            ratio = self.ratio
        );
        let deviation = "round(100 * w_lo, 2) AS wilson_onder,
       round(100 * w_hi, 2) AS wilson_boven,
       round((teller - verwacht) / sqrt(verwacht * (1 - nl_p)), 2) AS z,
       deviation_class(idx, 100 * w_lo / nl_p, 100 * w_hi / nl_p) AS klasse";
        let select = self.counted_select(region, keys, &ratios, deviation);
        Scores::Cte { scores, select }
    }

    /// An amount: rounded to thousands; per noemer (and per count) against NL; the median; and
    /// where the amount per noemer lies among the regions.
    fn amount_scores(&self, region: &Region, keys: &[Key]) -> Scores {
        let key_names = listed(keys, "");
        let count = self.teller.count.as_deref().map(|c| format!("{}, ", Key::parse(c).name)).unwrap_or_default();
        let decimals = self.decimals.unwrap_or(0);
        let mut columns = vec![
            format!("SELECT {}{key_names}, {count}noemer AS {}", region.names, self.noemer.name),
            format!("round(teller, -3) AS {}", self.teller.name),
            format!("round(per_noemer, {decimals}) AS {}", self.ratio),
            format!("round(nl_per_noemer, {decimals}) AS nl_{}", self.ratio),
            "round(idx, 1) AS index".to_string(),
        ];
        if let Some(per_count) = &self.per_count {
            columns.push(format!("round(per_count, {}) AS {}", per_count.decimals, per_count.ratio));
            columns.push(format!("round(nl_per_count, {}) AS nl_{}", per_count.decimals, per_count.ratio));
            columns.push(format!("round(idx_count, 1) AS {}", per_count.index));
        }
        if let Some(median) = self.teller.median.as_deref().map(Key::parse) {
            columns.push(format!("round({0}, 0) AS {0}", median.name));
            columns.push(format!("round(nl_{0}, 0) AS nl_{0}", median.name));
            columns.push(format!("round(100 * {0} / nl_{0}, 1) AS index_mediaan", median.name));
        }
        columns.push("round(robust_z(per_noemer) OVER (), 2) AS robuuste_z".into());
        columns.push("round(percentile_rank(per_noemer) OVER (), 3) AS percentiel".into());
        columns.push(
            "CASE WHEN idx IS NULL THEN NULL
            WHEN robust_z(per_noemer) OVER () >= 2 THEN 'hoog'
            WHEN robust_z(per_noemer) OVER () <= -2 THEN 'laag'
            ELSE 'rond gemiddelde' END AS klasse"
                .into(),
        );
        Scores::Select(format!("{}\nFROM cijfers\n{}", columns.join(",\n       "), Self::order_by(region, keys)))
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
            self.where_clause(),
            group_by.join(", ")
        )
    }

    /// The same aggregate over all of NL: no joins that only place rows, grouped by the keys.
    fn national(&self, keys: &[Key], measures: &[(&str, &str)]) -> String {
        let mut select: Vec<String> = keys.iter().map(|k| format!("{} AS {}", k.expr, k.name)).collect();
        select.extend(measures.iter().map(|(measure, name)| format!("{measure} AS {name}")));
        let group_by = if keys.is_empty() {
            String::new()
        } else {
            let exprs: Vec<&str> = keys.iter().map(|k| k.expr.as_str()).collect();
            format!("\n  GROUP BY {}", exprs.join(", "))
        };
        let from = self.from.replace('\n', "\n  ");
        format!("  SELECT {}\n  FROM {from}{}{group_by}", select.join(",\n         "), self.where_clause())
    }

    fn where_clause(&self) -> String {
        self.condition.map(|c| format!("\n  WHERE {c}")).unwrap_or_default()
    }
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
