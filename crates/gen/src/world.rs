//! The population every theme draws from: persons in households, dwellings with their owners,
//! and business establishments, all spread over the real buurten.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Pareto};

use crate::regions::Regions;
use crate::sbi::{CARE_CODES, SBI};

/// The reference year of the population (registers on 1 January 2024).
pub const YEAR: i32 = 2024;
/// First id of ondernemingen, so they never collide with persons.
pub const ONDERNEMING_BASE: i64 = 1_000_000_000;

pub struct Persons {
    pub buurt: Vec<u16>,
    pub birth_year: Vec<u16>,
    pub household: Vec<u32>,
    pub income: Vec<f32>,
    pub male: Vec<bool>,
    pub herkomst: Vec<u8>,
    pub wealth: Vec<f32>,
    /// Person index range [start, end) of each buurt: persons are generated buurt by buurt.
    pub range: Vec<(u32, u32)>,
}

impl Persons {
    pub fn len(&self) -> usize {
        self.buurt.len()
    }

    pub fn id(index: usize) -> i64 {
        index as i64 + 1
    }

    pub fn age(&self, index: usize, year: i32) -> i32 {
        year - i32::from(self.birth_year[index])
    }
}

pub struct Dwellings {
    pub buurt: Vec<u16>,
    pub bouwjaar: Vec<u16>,
    pub woz: Vec<f32>,
    /// 0 koop, 1 corporatie, 2 particuliere_huur.
    pub eigendom: Vec<u8>,
    pub owner: Vec<i64>,
    /// 0 persoon, 1 rechtspersoon, 2 stichting, 3 onbekend.
    pub owner_type: Vec<u8>,
    pub range: Vec<(u32, u32)>,
    /// Distinct persons owning a rented-out dwelling (particuliere verhuurders).
    pub landlords: u64,
}

pub struct Businesses {
    pub buurt: Vec<u16>,
    pub sbi: Vec<u16>,
    pub onderneming: Vec<i64>,
    pub founded: Vec<u16>,
    pub omzet: Vec<f32>,
    pub workers: Vec<u16>,
}

pub struct World {
    pub regions: Regions,
    pub scale: f64,
    pub persons: Persons,
    pub dwellings: Dwellings,
    pub businesses: Businesses,
}

/// Rounds `x` up or down at random, so scaled counts are right on average at any scale.
pub fn stochastic_round(x: f64, rng: &mut ChaCha8Rng) -> i64 {
    let floor = x.floor();
    floor as i64 + i64::from(rng.random::<f64>() < x - floor)
}

/// Samples indexes in proportion to weights.
pub struct WeightedIndex {
    cumulative: Vec<f64>,
}

impl WeightedIndex {
    pub fn new(weights: impl Iterator<Item = f64>) -> WeightedIndex {
        let mut total = 0.0;
        let cumulative = weights
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        WeightedIndex { cumulative }
    }

    pub fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&0.0);
        let target = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= target).min(self.cumulative.len() - 1)
    }
}

pub fn build(regions: Regions, scale: f64, rng: &mut ChaCha8Rng) -> World {
    let persons = persons(&regions, scale, rng);
    let dwellings = dwellings(&regions, &persons, scale, rng);
    let businesses = businesses(&regions, scale, rng);
    World { regions, scale, persons, dwellings, businesses }
}

/// Household sizes 1..=5 with CBS-like shares (mean about 2.1).
const HOUSEHOLD_SIZES: [f64; 5] = [0.39, 0.32, 0.12, 0.12, 0.05];

fn persons(regions: &Regions, scale: f64, rng: &mut ChaCha8Rng) -> Persons {
    let expected = regions.gemeenten.iter().map(|g| g.inwoners).sum::<i64>() as f64 * scale;
    let capacity = (expected * 1.01) as usize + 16;
    let mut p = Persons {
        buurt: Vec::with_capacity(capacity),
        birth_year: Vec::with_capacity(capacity),
        household: Vec::with_capacity(capacity),
        income: Vec::with_capacity(capacity),
        male: Vec::with_capacity(capacity),
        herkomst: Vec::with_capacity(capacity),
        wealth: Vec::with_capacity(capacity),
        range: Vec::with_capacity(regions.buurten.len()),
    };
    let household_size = WeightedIndex::new(HOUSEHOLD_SIZES.into_iter());
    let mut household = 0u32;
    for (b, buurt) in regions.buurten.iter().enumerate() {
        let start = p.buurt.len() as u32;
        let n = stochastic_round(buurt.inwoners as f64 * scale, rng);
        let income = LogNormal::new((regions.wijken[buurt.wijk].inkomen * 0.85).ln(), 0.55).expect("valid");
        let mut left_in_household = 0;
        for _ in 0..n {
            if left_in_household == 0 {
                household += 1;
                left_in_household = household_size.sample(rng) + 1;
            }
            left_in_household -= 1;
            let birth = birth_year(rng);
            let adult = YEAR - birth >= 18;
            p.buurt.push(b as u16);
            p.birth_year.push(birth as u16);
            p.household.push(household);
            p.income.push(if adult { income.sample(rng) as f32 } else { 0.0 });
            p.male.push(rng.random::<bool>());
            p.herkomst.push(match rng.random::<f64>() {
                x if x < 0.74 => 0,
                x if x < 0.85 => 1,
                _ => 2,
            });
            p.wealth.push(if adult { wealth(rng) } else { 0.0 });
        }
        p.range.push((start, p.buurt.len() as u32));
    }
    p
}

/// A birth year from a rough Dutch age pyramid (ages 0-99, fewer above 65).
fn birth_year(rng: &mut ChaCha8Rng) -> i32 {
    let age = match rng.random::<f64>() {
        x if x < 0.20 => rng.random_range(0..18),
        x if x < 0.80 => rng.random_range(18..65),
        x if x < 0.97 => rng.random_range(65..85),
        _ => rng.random_range(85..100),
    };
    YEAR - age
}

fn wealth(rng: &mut ChaCha8Rng) -> f32 {
    let base = LogNormal::new(10.5_f64, 1.4).expect("valid").sample(rng);
    // About one in eight households has net debts.
    if rng.random::<f64>() < 0.12 { -(base * 0.3) as f32 } else { base as f32 }
}

const LANDLORDS: f64 = 280_000.0;
const LANDLORD_DWELLINGS: f64 = 500_000.0;

fn dwellings(regions: &Regions, persons: &Persons, scale: f64, rng: &mut ChaCha8Rng) -> Dwellings {
    let mut d = Dwellings {
        buurt: Vec::new(),
        bouwjaar: Vec::new(),
        woz: Vec::new(),
        eigendom: Vec::new(),
        owner: Vec::new(),
        owner_type: Vec::new(),
        range: Vec::with_capacity(regions.buurten.len()),
        landlords: 0,
    };
    let corporaties = ((300.0 * scale).ceil() as i64).max(5);
    for (b, buurt) in regions.buurten.iter().enumerate() {
        let start = d.buurt.len() as u32;
        let n = stochastic_round(buurt.woningen as f64 * scale, rng);
        let wijk_income = regions.wijken[buurt.wijk].inkomen;
        let level = 330_000.0 * (wijk_income / 30_000.0).powf(1.2);
        let woz = LogNormal::new(level.ln(), 0.35).expect("valid");
        // Richer wijken own more, rent less from corporations.
        let koop = (0.57 * (wijk_income / 30_000.0).powf(0.8)).clamp(0.2, 0.9);
        let (first, end) = persons.range[b];
        for _ in 0..n {
            d.buurt.push(b as u16);
            d.bouwjaar.push(match rng.random::<f64>() {
                x if x < 0.15 => rng.random_range(1850..1945),
                x if x < 0.75 => rng.random_range(1945..2000),
                _ => rng.random_range(2000..2024),
            });
            d.woz.push(woz.sample(rng) as f32);
            let x = rng.random::<f64>();
            let (eigendom, owner, owner_type) = if x < koop && end > first {
                (0, Persons::id(rng.random_range(first..end) as usize), 0)
            } else if x < koop + (1.0 - koop) * 0.67 {
                let stichting = rng.random::<f64>() < 0.02;
                (1, ONDERNEMING_BASE + rng.random_range(0..corporaties), if stichting { 2 } else { 1 })
            } else {
                (2, 0, 1)
            };
            d.eigendom.push(eigendom);
            d.owner.push(owner);
            d.owner_type.push(owner_type);
        }
        d.range.push((start, d.buurt.len() as u32));
    }
    assign_landlords(&mut d, persons, scale, corporaties, rng);
    d
}

/// Private landlords: ~280,000 persons owning ~0.5 million dwellings; 80% own one, the rest a
/// Pareto tail (about 250 own 50 or more). Rented dwellings beyond theirs belong to companies.
fn assign_landlords(d: &mut Dwellings, persons: &Persons, scale: f64, corporaties: i64, rng: &mut ChaCha8Rng) {
    let rented: Vec<usize> = (0..d.eigendom.len()).filter(|&i| d.eigendom[i] == 2).collect();
    let landlords = stochastic_round(LANDLORDS * scale, rng).max(1);
    let tail = Pareto::new(2.0, 1.68).expect("valid");
    let mut slots = Vec::new();
    for _ in 0..landlords {
        let owner = Persons::id(adult(persons, rng));
        let count = if rng.random::<f64>() < 0.8 { 1 } else { (tail.sample(rng) as usize).min(2000) };
        slots.extend(std::iter::repeat_n(owner, count));
    }
    slots.truncate(((LANDLORD_DWELLINGS * scale).round() as usize).min(rented.len()));
    slots.shuffle(rng);
    let mut owners: Vec<i64> = slots.clone();
    owners.sort_unstable();
    owners.dedup();
    d.landlords = owners.len() as u64;
    for (k, &dwelling) in rented.iter().enumerate() {
        match slots.get(k) {
            Some(&owner) => {
                d.owner[dwelling] = owner;
                d.owner_type[dwelling] = 0;
            }
            None => d.owner[dwelling] = ONDERNEMING_BASE + corporaties + rng.random_range(0..50_000),
        }
    }
}

/// A random adult anywhere.
pub fn adult(persons: &Persons, rng: &mut ChaCha8Rng) -> usize {
    loop {
        let i = rng.random_range(0..persons.len());
        if persons.age(i, YEAR) >= 18 {
            return i;
        }
    }
}

const VESTIGINGEN: f64 = 2_300_000.0;

fn businesses(regions: &Regions, scale: f64, rng: &mut ChaCha8Rng) -> Businesses {
    let n = stochastic_round(VESTIGINGEN * scale, rng) as usize;
    let weights = |b: &crate::regions::Buurt| b.inwoners as f64;
    let places = WeightedIndex::new(regions.buurten.iter().map(weights));
    let vulnerable_weight = |b: &crate::regions::Buurt| {
        b.inwoners as f64 * crate::hotspots::factor("basis.vestiging", &regions.gemeenten[b.gemeente].code)
    };
    let vulnerable_places = WeightedIndex::new(regions.buurten.iter().map(vulnerable_weight));
    let activity = WeightedIndex::new(SBI.iter().map(|s| s.share));
    let omzet = LogNormal::new(150_000f64.ln(), 1.4).expect("valid");
    let mut v = Businesses {
        buurt: Vec::with_capacity(n),
        sbi: Vec::with_capacity(n),
        onderneming: Vec::with_capacity(n),
        founded: Vec::with_capacity(n),
        omzet: Vec::with_capacity(n),
        workers: Vec::with_capacity(n),
    };
    let mut onderneming = ONDERNEMING_BASE + 1_000_000;
    let mut chain_left = 0;
    for _ in 0..n {
        let sbi = activity.sample(rng);
        let place = if SBI[sbi].kwetsbaar { vulnerable_places.sample(rng) } else { places.sample(rng) };
        // Care providers are single establishments, so a provider is one onderneming.
        let care = CARE_CODES.contains(&SBI[sbi].code);
        if chain_left == 0 || care {
            onderneming += 1;
            chain_left = if !care && rng.random::<f64>() < 0.05 { rng.random_range(2..12) } else { 1 };
        }
        chain_left -= 1;
        v.buurt.push(place as u16);
        v.sbi.push(sbi as u16);
        v.onderneming.push(onderneming);
        v.founded.push(2024 - (rng.random::<f64>().powi(2) * 70.0) as u16);
        v.omzet.push(omzet.sample(rng) as f32);
        v.workers.push(1 + (rng.random::<f64>().powi(6) * 200.0) as u16);
    }
    v
}
