//! The real regions of 2024 (Bron: CBS), parsed from the CSV files compiled into the crate.

use std::collections::HashMap;

use crate::GenError;

const REGIO: &str = include_str!("../../../data/cbs/regio_2024.csv");
const VEILIGHEID: &str = include_str!("../../../data/cbs/gemeente_2024_veiligheid.csv");
const INKOMEN: &str = include_str!("../../../data/cbs/inkomen_gemeente_wijk_2020.csv");
pub const MISDRIJVEN: &str = include_str!("../../../data/cbs/nl_misdrijven_2012_2023.csv");

#[derive(Debug, Clone)]
pub struct Gemeente {
    pub code: String,
    pub naam: String,
    pub provincie: String,
    pub vr_code: String,
    pub vr_naam: String,
    pub politie_eenheid: String,
    pub riec_regio: String,
    pub inwoners: i64,
    pub woningen: i64,
}

#[derive(Debug, Clone)]
pub struct Wijk {
    pub code: String,
    pub naam: String,
    pub gemeente: usize,
    pub inwoners: i64,
    pub woningen: i64,
    /// Mean personal income per inhabitant (euro), from the 2020 income table, falling back to the
    /// gemeente and then the national mean.
    pub inkomen: f64,
}

#[derive(Debug, Clone)]
pub struct Buurt {
    pub code: String,
    pub naam: String,
    pub wijk: usize,
    pub gemeente: usize,
    pub inwoners: i64,
    /// The wijk's dwellings split in proportion to inwoners (largest remainder, so they add up).
    pub woningen: i64,
}

#[derive(Debug)]
pub struct Regions {
    pub gemeenten: Vec<Gemeente>,
    pub wijken: Vec<Wijk>,
    pub buurten: Vec<Buurt>,
}

/// National mean personal income per inhabitant in 2020 (CBS), for wijken without a figure.
const NATIONAL_INCOME: f64 = 30_000.0;

impl Regions {
    pub fn load() -> Result<Regions, GenError> {
        let safety = safety_regions()?;
        let income = incomes();
        let mut gemeenten = Vec::new();
        let mut wijken = Vec::new();
        let mut wijk_gemeente_codes = Vec::new();
        let mut buurt_rows = Vec::new();
        let mut gemeente_index = HashMap::new();
        let mut wijk_index = HashMap::new();
        for record in csv::Reader::from_reader(REGIO.as_bytes()).records() {
            let r = record.map_err(|e| GenError::Data(format!("regio_2024.csv: {e}")))?;
            let number = |i: usize| r.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            match &r[0] {
                "gemeente" => {
                    let s =
                        safety.get(&r[1]).ok_or_else(|| GenError::Data(format!("no safety region for {}", &r[1])))?;
                    gemeente_index.insert(r[1].to_string(), gemeenten.len());
                    gemeenten.push(Gemeente {
                        code: r[1].to_string(),
                        naam: r[2].to_string(),
                        provincie: s[0].clone(),
                        vr_code: s[1].clone(),
                        vr_naam: s[2].clone(),
                        politie_eenheid: s[3].clone(),
                        riec_regio: s[4].clone(),
                        inwoners: number(6),
                        woningen: number(7),
                    });
                }
                "wijk" => {
                    wijk_index.insert(r[1].to_string(), wijken.len());
                    wijk_gemeente_codes.push(r[4].to_string());
                    let (inwoners, woningen) = (number(6), number(7));
                    let (code, naam) = (r[1].to_string(), r[2].to_string());
                    wijken.push(Wijk {
                        code,
                        naam,
                        gemeente: usize::MAX,
                        inwoners,
                        woningen,
                        inkomen: NATIONAL_INCOME,
                    });
                }
                "buurt" => buurt_rows.push((r[1].to_string(), r[2].to_string(), r[3].to_string(), number(6))),
                other => return Err(GenError::Data(format!("regio_2024.csv: unknown niveau {other}"))),
            }
        }
        resolve_wijken(&mut wijken, &wijk_gemeente_codes, &gemeente_index, &income, &gemeenten)?;
        let buurten = split_buurten(buurt_rows, &wijken, &wijk_index)?;
        Ok(Regions { gemeenten, wijken, buurten })
    }

    pub fn gemeente_by_code(&self, code: &str) -> Option<usize> {
        self.gemeenten.iter().position(|g| g.code == code)
    }
}

fn resolve_wijken(
    wijken: &mut [Wijk],
    gemeente_codes: &[String],
    gemeente_index: &HashMap<String, usize>,
    income: &HashMap<String, f64>,
    gemeenten: &[Gemeente],
) -> Result<(), GenError> {
    for (wijk, gm) in wijken.iter_mut().zip(gemeente_codes) {
        wijk.gemeente = *gemeente_index
            .get(gm)
            .ok_or_else(|| GenError::Data(format!("wijk {} in unknown gemeente {gm}", wijk.code)))?;
        wijk.inkomen = income
            .get(&wijk.code)
            .or_else(|| income.get(&gemeenten[wijk.gemeente].code))
            .copied()
            .unwrap_or(NATIONAL_INCOME);
    }
    Ok(())
}

fn split_buurten(
    rows: Vec<(String, String, String, i64)>,
    wijken: &[Wijk],
    wijk_index: &HashMap<String, usize>,
) -> Result<Vec<Buurt>, GenError> {
    let mut buurten: Vec<Buurt> = Vec::with_capacity(rows.len());
    for (code, naam, wk, inwoners) in rows {
        let wijk = *wijk_index.get(&wk).ok_or_else(|| GenError::Data(format!("buurt {code} in unknown wijk {wk}")))?;
        buurten.push(Buurt { code, naam, wijk, gemeente: wijken[wijk].gemeente, inwoners, woningen: 0 });
    }
    let mut by_wijk: Vec<Vec<usize>> = vec![Vec::new(); wijken.len()];
    for (i, b) in buurten.iter().enumerate() {
        by_wijk[b.wijk].push(i);
    }
    for (w, members) in by_wijk.iter().enumerate() {
        for (member, share) in
            members.iter().zip(largest_remainder(wijken[w].woningen, members.iter().map(|&i| buurten[i].inwoners)))
        {
            buurten[*member].woningen = share;
        }
    }
    Ok(buurten)
}

/// Splits `total` over parts in proportion to `weights`, in integers that add up to `total`
/// (equal shares where every weight is zero).
pub fn largest_remainder(total: i64, weights: impl Iterator<Item = i64>) -> Vec<i64> {
    let weights: Vec<i64> = weights.collect();
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: i64 = weights.iter().sum();
    let weights: Vec<f64> =
        if sum > 0 { weights.iter().map(|&w| w as f64).collect() } else { vec![1.0; weights.len()] };
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut shares: Vec<i64> = exact.iter().map(|e| e.floor() as i64).collect();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let missing = total - shares.iter().sum::<i64>();
    for &i in order.iter().take(missing.max(0) as usize) {
        shares[i] += 1;
    }
    shares
}

fn safety_regions() -> Result<HashMap<String, [String; 5]>, GenError> {
    let mut map = HashMap::new();
    for record in csv::Reader::from_reader(VEILIGHEID.as_bytes()).records() {
        let r = record.map_err(|e| GenError::Data(format!("gemeente_2024_veiligheid.csv: {e}")))?;
        map.insert(r[0].to_string(), [2, 3, 4, 5, 6].map(|i| r[i].to_string()));
    }
    Ok(map)
}

/// Mean income per wijk and gemeente (x 1000 euro in the file). Lines are `GMxxxx;Totaal;naam;v;..`
/// for a gemeente and `;WKxxxxxx;naam;v;..` for its wijken; '.' marks a missing value.
fn incomes() -> HashMap<String, f64> {
    let mut map = HashMap::new();
    for line in INKOMEN.lines() {
        let fields: Vec<&str> = line.trim_start_matches('\u{feff}').trim_end_matches('\r').split(';').collect();
        if fields.len() < 4 {
            continue;
        }
        let code = if fields[0].starts_with("GM") { fields[0] } else { fields[1] };
        if let Ok(value) = fields[3].replace(',', ".").parse::<f64>()
            && (code.starts_with("GM") || code.starts_with("WK"))
        {
            map.insert(code.to_string(), value * 1000.0);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_match_cbs_counts() {
        let regions = Regions::load().unwrap();
        assert_eq!(regions.gemeenten.len(), 342);
        assert_eq!(regions.wijken.len(), 3393);
        assert_eq!(regions.buurten.len(), 14574);
        assert_eq!(regions.gemeenten.iter().map(|g| g.inwoners).sum::<i64>(), 17_942_942);
        let dronten = regions.gemeente_by_code("GM0303").unwrap();
        assert_eq!(regions.gemeenten[dronten].provincie, "Flevoland");
    }

    #[test]
    fn largest_remainder_adds_up() {
        assert_eq!(largest_remainder(10, [1, 1, 1].into_iter()), vec![4, 3, 3]);
        assert_eq!(largest_remainder(7, [0, 0].into_iter()).iter().sum::<i64>(), 7);
        assert_eq!(largest_remainder(5, [100, 0].into_iter()), vec![5, 0]);
    }

    #[test]
    fn wijk_incomes_come_from_the_income_table() {
        let regions = Regions::load().unwrap();
        let dronten_west = regions.wijken.iter().find(|w| w.code == "WK030301").unwrap();
        assert!((dronten_west.inkomen - 28_800.0).abs() < 1.0);
    }
}
