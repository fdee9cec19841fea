//! The insider's ground truth: the microdata read straight from the Parquet files, bypassing the
//! engine, and the questions an attacker would like answered (whose income is what).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use zicht_engine::datafusion::arrow::array::{Array, AsArray, RecordBatch};
use zicht_engine::datafusion::arrow::compute::cast;
use zicht_engine::datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use zicht_engine::datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub household: i64,
    pub buurt: String,
    pub birth_year: i64,
    pub gender: String,
    pub origin: String,
    pub income: f64,
}

#[derive(Debug, Clone)]
pub struct Dwelling {
    pub buurt: String,
    pub value: f64,
    pub owner: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub person: i64,
    pub year: i64,
    pub place: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Establishment {
    pub id: i64,
    pub buurt: String,
    pub turnover: f64,
}

pub struct Insider {
    pub persons: Vec<Person>,
    pub dwellings: Vec<Dwelling>,
    pub registrations: Vec<Registration>,
    pub establishments: Vec<Establishment>,
    /// buurt code -> gemeente code
    pub gemeente_of: HashMap<String, String>,
    /// buurt code -> indices into `persons`
    by_buurt: HashMap<String, Vec<usize>>,
}

fn batches(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(|b| b.unwrap()).collect()
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a dyn Array {
    batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}")).as_ref()
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let array = cast(column(batch, name), &DataType::Int64).unwrap();
    let array = array.as_primitive::<Int64Type>();
    (0..array.len()).map(|i| (!array.is_null(i)).then(|| array.value(i))).collect()
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let array = cast(column(batch, name), &DataType::Float64).unwrap();
    let array = array.as_primitive::<Float64Type>();
    (0..array.len()).map(|i| (!array.is_null(i)).then(|| array.value(i))).collect()
}

fn texts(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = cast(column(batch, name), &DataType::Utf8).unwrap();
    let array = array.as_string::<i32>();
    (0..array.len()).map(|i| (!array.is_null(i)).then(|| array.value(i).to_string())).collect()
}

impl Insider {
    pub fn read(data: &Path) -> Insider {
        let mut persons = Vec::new();
        for b in batches(&data.join("basis/persoon.parquet")) {
            let (id, household, buurt) = (ints(&b, "persoon_id"), ints(&b, "huishouden_id"), texts(&b, "bu_code"));
            let (birth, gender, origin) = (ints(&b, "geboortejaar"), texts(&b, "geslacht"), texts(&b, "herkomst"));
            let income = floats(&b, "inkomen");
            for i in 0..b.num_rows() {
                persons.push(Person {
                    id: id[i].unwrap(),
                    household: household[i].unwrap(),
                    buurt: buurt[i].clone().unwrap(),
                    birth_year: birth[i].unwrap_or(0),
                    gender: gender[i].clone().unwrap_or_default(),
                    origin: origin[i].clone().unwrap_or_default(),
                    income: income[i].unwrap_or(0.0),
                });
            }
        }
        let mut dwellings = Vec::new();
        for b in batches(&data.join("basis/woning.parquet")) {
            let (buurt, value, owner) = (texts(&b, "bu_code"), floats(&b, "woz_waarde"), ints(&b, "eigenaar_id"));
            for i in 0..b.num_rows() {
                dwellings.push(Dwelling {
                    buurt: buurt[i].clone().unwrap(),
                    value: value[i].unwrap_or(0.0),
                    owner: owner[i],
                });
            }
        }
        let mut registrations = Vec::new();
        for b in batches(&data.join("drugs/verdachte.parquet")) {
            let (person, year, place) = (ints(&b, "persoon_id"), ints(&b, "jaar"), texts(&b, "pleeg_gm_code"));
            for i in 0..b.num_rows() {
                registrations.push(Registration {
                    person: person[i].unwrap(),
                    year: year[i].unwrap(),
                    place: place[i].clone(),
                });
            }
        }
        let mut establishments = Vec::new();
        for b in batches(&data.join("basis/vestiging.parquet")) {
            let (id, buurt, turnover) = (ints(&b, "vestiging_id"), texts(&b, "bu_code"), floats(&b, "omzet"));
            for i in 0..b.num_rows() {
                establishments.push(Establishment {
                    id: id[i].unwrap(),
                    buurt: buurt[i].clone().unwrap(),
                    turnover: turnover[i].unwrap_or(0.0),
                });
            }
        }
        let mut gemeente_of = HashMap::new();
        for b in batches(&data.join("regio/buurt.parquet")) {
            let (buurt, gemeente) = (texts(&b, "bu_code"), texts(&b, "gm_code"));
            for i in 0..b.num_rows() {
                gemeente_of.insert(buurt[i].clone().unwrap(), gemeente[i].clone().unwrap());
            }
        }
        let mut by_buurt: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in persons.iter().enumerate() {
            by_buurt.entry(p.buurt.clone()).or_default().push(i);
        }
        Insider { persons, dwellings, registrations, establishments, gemeente_of, by_buurt }
    }

    pub fn in_buurt(&self, buurt: &str) -> Vec<&Person> {
        self.by_buurt.get(buurt).map(|ids| ids.iter().map(|&i| &self.persons[i]).collect()).unwrap_or_default()
    }

    /// The buurten with persons, in code order.
    pub fn buurten(&self) -> Vec<&str> {
        let mut buurten: Vec<&str> = self.by_buurt.keys().map(String::as_str).collect();
        buurten.sort_unstable();
        buurten
    }

    /// Victims an attacker knows by buurt and birth year: the only person of their birth year in
    /// a buurt of at least `min` persons (so that the buurt itself is released), with an income.
    pub fn unique_by_buurt_and_year(&self, min: usize, how_many: usize) -> Vec<&Person> {
        let mut victims = Vec::new();
        for buurt in self.buurten() {
            let people = self.in_buurt(buurt);
            if people.len() < min {
                continue;
            }
            let unique = people
                .iter()
                .find(|p| p.income > 10_000.0 && people.iter().filter(|q| q.birth_year == p.birth_year).count() == 1);
            if let Some(victim) = unique {
                victims.push(*victim);
                if victims.len() == how_many {
                    break;
                }
            }
        }
        victims
    }

    /// The SQL condition that singles out a victim known by buurt and birth year.
    pub fn singled_out(victim: &Person) -> String {
        format!("bu_code = '{}' AND geboortejaar = {}", victim.buurt, victim.birth_year)
    }

    pub fn count(&self, filter: impl Fn(&Person) -> bool) -> usize {
        self.persons.iter().filter(|p| filter(p)).count()
    }

    pub fn income_sum(&self, filter: impl Fn(&Person) -> bool) -> f64 {
        self.persons.iter().filter(|p| filter(p)).map(|p| p.income).sum()
    }
}
