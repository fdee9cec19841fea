//! The protected theme tables, 2019-2024, drawn from the shared population. Yearly totals follow
//! the published national figures (times the scale); planted hot spots raise the rate in named
//! gemeenten (see hotspots.rs).

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Poisson};

use crate::hotspots::factor;
use crate::world::{Persons, WeightedIndex, World, stochastic_round};
use crate::writer::{Columns, TableWriter};
use crate::{CalibrationRow, GenError};

pub const YEARS: std::ops::RangeInclusive<i32> = 2019..=2024;
/// Rows per batch written.
const CHUNK: usize = 1 << 20;

/// What every theme generator gets.
pub struct Ctx<'a> {
    pub world: &'a World,
    pub calibration: &'a mut Vec<CalibrationRow>,
}

impl Ctx<'_> {
    fn target(&mut self, quantity: &str, national: f64, actual: f64) {
        let target = national * self.world.scale;
        self.calibration.push(CalibrationRow { quantity: quantity.to_string(), target, actual });
    }

    fn scaled(&self, national: f64, rng: &mut ChaCha8Rng) -> usize {
        stochastic_round(national * self.world.scale, rng).max(0) as usize
    }

    fn gm_code(&self, buurt: usize) -> &str {
        let w = self.world;
        &w.regions.gemeenten[w.regions.buurten[buurt].gemeente].code
    }

    fn bu_code(&self, person: usize) -> &str {
        &self.world.regions.buurten[self.world.persons.buurt[person] as usize].code
    }
}

/// Samples persons with a buurt-level weight: population, planted factor, and optionally more in
/// low-income wijken.
struct PersonSampler {
    buurten: WeightedIndex,
}

impl PersonSampler {
    fn new(world: &World, table: &str, low_income_boost: f64) -> PersonSampler {
        let regions = &world.regions;
        let weights = regions.buurten.iter().enumerate().map(|(b, buurt)| {
            let (start, end) = world.persons.range[b];
            let income = regions.wijken[buurt.wijk].inkomen;
            let gm = &regions.gemeenten[buurt.gemeente].code;
            (end - start) as f64 * factor(table, gm) * (30_000.0 / income).powf(low_income_boost)
        });
        PersonSampler { buurten: WeightedIndex::new(weights) }
    }

    /// A person accepted by `accept`; gives up (None) after many tries.
    fn sample(&self, world: &World, rng: &mut ChaCha8Rng, accept: impl Fn(usize) -> bool) -> Option<usize> {
        for _ in 0..64 {
            let (start, end) = world.persons.range[self.buurten.sample(rng)];
            if end > start {
                let person = rng.random_range(start..end) as usize;
                if accept(person) {
                    return Some(person);
                }
            }
        }
        None
    }
}

fn adult_in(world: &World, year: i32) -> impl Fn(usize) -> bool + '_ {
    move |p| world.persons.age(p, year) >= 18
}

/// Per year a set of distinct units, `keep` of last year's staying on.
fn yearly_sets(
    totals: &[usize],
    keep: f64,
    rng: &mut ChaCha8Rng,
    mut draw: impl FnMut(&mut ChaCha8Rng, usize) -> Option<usize>,
) -> Vec<Vec<usize>> {
    let mut years: Vec<Vec<usize>> = Vec::new();
    for (y, &total) in totals.iter().enumerate() {
        let mut set: Vec<usize> = match years.last() {
            Some(previous) => previous.iter().copied().filter(|_| rng.random::<f64>() < keep).collect(),
            None => Vec::new(),
        };
        set.truncate(total);
        let mut seen: HashSet<usize> = set.iter().copied().collect();
        // Draws fail (a duplicate, a unit the draw rejects); give up only after many in a row.
        let mut misses_in_a_row = 0;
        while set.len() < total && misses_in_a_row < 10_000 {
            match draw(rng, y).filter(|u| seen.insert(*u)) {
                Some(unit) => {
                    set.push(unit);
                    misses_in_a_row = 0;
                }
                None => misses_in_a_row += 1,
            }
        }
        years.push(set);
    }
    years
}

pub fn transactie(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<(), GenError> {
    let world = ctx.world;
    let d = &world.dwellings;
    let sellable: Vec<usize> = (0..d.eigendom.len()).filter(|&i| d.eigendom[i] != 1).collect();
    if sellable.is_empty() {
        return Err(GenError::Data("no dwellings to sell at this scale".into()));
    }
    let per_year = ctx.scaled(180_000.0, rng);
    // Doorsluiswoningen: a few dwellings resold five to seven times in six years.
    let flips = ctx.scaled(1_500.0, rng);
    let mut sales: Vec<(usize, i32)> = Vec::new();
    for _ in 0..flips {
        let dwelling = *sellable.choose(rng).expect("not empty");
        let times = rng.random_range(5..=7);
        let mut years: Vec<i32> = (0..times).map(|_| rng.random_range(YEARS)).collect();
        years.sort_unstable();
        sales.extend(years.into_iter().map(|y| (dwelling, y)));
    }
    for year in YEARS {
        let already = sales.iter().filter(|s| s.1 == year).count();
        for _ in already..per_year {
            sales.push((*sellable.choose(rng).expect("not empty"), year));
        }
    }
    sales.sort_by_key(|s| (s.1, s.0));
    let mut last_owner: HashMap<usize, i64> = HashMap::new();
    let mut cols = TransactionColumns::default();
    let mut unexplained_2023 = 0.0;
    let mut price_sum = 0.0;
    for (k, &(dwelling, year)) in sales.iter().enumerate() {
        let buurt = d.buurt[dwelling] as usize;
        let (start, end) = world.persons.range[buurt];
        let buyer = if end > start && rng.random::<f64>() < 0.5 {
            rng.random_range(start..end) as usize
        } else {
            crate::world::adult(&world.persons, rng)
        };
        // Sale prices run above WOZ values (2023: mean ~416,000 against a mean WOZ of ~370,000).
        let price = f64::from(d.woz[dwelling]) * rng.random_range(1.0..1.5) * 1.04f64.powi(year - 2023);
        // The base rate leaves room for the planted excess (Eindhoven, ~2% of sales at 3x).
        let p = 10_600.0 / 180_000.0 / 1.045 * factor("vastgoed.transactie", ctx.gm_code(buurt));
        let unexplained = rng.random::<f64>() < p;
        let capacity =
            if unexplained { price * rng.random_range(0.5..0.95) } else { price * rng.random_range(1.0..1.8) };
        if year == 2023 {
            unexplained_2023 += f64::from(unexplained);
            price_sum += price;
        }
        let seller = last_owner.insert(dwelling, Persons::id(buyer)).unwrap_or(d.owner[dwelling]);
        cols.push(k as i64 + 1, dwelling as i64 + 1, Persons::id(buyer), seller, year, price, capacity);
    }
    let in_2023 = sales.iter().filter(|s| s.1 == 2023).count() as f64;
    ctx.target("transacties 2023", 180_000.0, in_2023);
    ctx.target("onverklaarbare aankopen 2023", 10_600.0, unexplained_2023);
    ctx.target("gemiddelde koopsom 2023 (EUR, not scaled)", 416_000.0 / world.scale, price_sum / in_2023.max(1.0));
    out.write(cols.into_columns())?;
    Ok(())
}

#[derive(Default)]
struct TransactionColumns {
    id: Vec<i64>,
    dwelling: Vec<i64>,
    buyer: Vec<i64>,
    seller: Vec<i64>,
    year: Vec<i32>,
    price: Vec<f64>,
    capacity: Vec<f64>,
}

impl TransactionColumns {
    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, id: i64, dwelling: i64, buyer: i64, seller: i64, year: i32, price: f64, capacity: f64) {
        self.id.push(id);
        self.dwelling.push(dwelling);
        self.buyer.push(buyer);
        self.seller.push(seller);
        self.year.push(year);
        self.price.push(price.round());
        self.capacity.push(capacity.round());
    }

    fn into_columns(self) -> Columns {
        Columns::new()
            .int64("transactie_id", self.id)
            .int64("woning_id", self.dwelling)
            .int64("koper_id", self.buyer)
            .int64("verkoper_id", self.seller)
            .int32("jaar", self.year)
            .float64("koopsom", self.price)
            .float64("max_financiering", self.capacity)
    }
}

/// Police-registered drugshandel (F42 + F43) per year; 2024 continues 2023.
const DRUGSHANDEL: [f64; 6] = [13_784.0, 13_000.0, 12_200.0, 11_613.0, 13_468.0, 13_500.0];
/// Offence codes and their shares of registrations; F42 and F43 (handel) make up 45%.
const FEITEN: [(&str, f64); 6] =
    [("F40", 0.20), ("F41", 0.22), ("F42", 0.25), ("F43", 0.20), ("F44", 0.04), ("F45", 0.09)];

/// Suspects' households per year, for the family ties of the youth theme.
pub type SuspectHouseholds = Vec<HashSet<u32>>;

pub fn verdachte(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<SuspectHouseholds, GenError> {
    let world = ctx.world;
    let persons = &world.persons;
    let sampler = PersonSampler::new(world, "drugs.verdachte", 0.8);
    let feit = WeightedIndex::new(FEITEN.iter().map(|f| f.1));
    let places = WeightedIndex::new(world.regions.gemeenten.iter().map(|g| g.inwoners as f64));
    let mut households: SuspectHouseholds = Vec::new();
    let (mut ids, mut who, mut codes, mut years, mut places_out) = (vec![], vec![], vec![], vec![], vec![]);
    let mut suspects_2019 = 0.0;
    let mut handel_2023 = 0.0;
    for (y, year) in YEARS.enumerate() {
        let registrations = ctx.scaled(DRUGSHANDEL[y] / 0.45, rng);
        let mut this_year: Vec<usize> = Vec::new();
        let mut homes = HashSet::new();
        let likely = |p: usize| {
            let age = persons.age(p, year);
            (14..=60).contains(&age) && (persons.male[p] || rng_free_female(p))
        };
        for _ in 0..registrations {
            // About 1.5 registrations per suspect a year.
            let repeat = !this_year.is_empty() && rng.random::<f64>() < 0.35;
            let suspect = if repeat {
                *this_year.choose(rng).expect("not empty")
            } else {
                match sampler.sample(world, rng, likely) {
                    Some(p) => p,
                    None => continue,
                }
            };
            if !repeat {
                this_year.push(suspect);
            }
            homes.insert(persons.household[suspect]);
            let code = FEITEN[feit.sample(rng)].0;
            handel_2023 += f64::from(year == 2023 && (code == "F42" || code == "F43"));
            let place = if rng.random::<f64>() < 0.75 {
                ctx.gm_code(persons.buurt[suspect] as usize).to_string()
            } else {
                world.regions.gemeenten[places.sample(rng)].code.clone()
            };
            ids.push(ids.len() as i64 + 1);
            who.push(Persons::id(suspect));
            codes.push(code);
            years.push(year);
            places_out.push(Some(place));
        }
        if year == 2019 {
            suspects_2019 = this_year.len() as f64;
        }
        households.push(homes);
    }
    ctx.target("Opiumwet-verdachten 2019", 20_000.0, suspects_2019);
    ctx.target("drugshandel-registraties 2023", 13_468.0, handel_2023);
    out.write(
        Columns::new()
            .int64("registratie_id", ids)
            .int64("persoon_id", who)
            .text("feit_code", codes)
            .int32("jaar", years)
            .opt_text("pleeg_gm_code", places_out),
    )?;
    Ok(households)
}

/// A deterministic quarter of women pass the suspect filter (men are overrepresented).
fn rng_free_female(person: usize) -> bool {
    person.wrapping_mul(2_654_435_761).is_multiple_of(4)
}

/// Dismantled cannabis farms per year (politie: 2,894 in 2020, 2,285 in 2021).
const HENNEP: [f64; 6] = [3_000.0, 2_894.0, 2_285.0, 2_300.0, 2_250.0, 2_200.0];

pub fn hennepruiming(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<(), GenError> {
    let world = ctx.world;
    let weights = world.regions.buurten.iter().enumerate().map(|(b, buurt)| {
        let (start, end) = world.dwellings.range[b];
        let gm = &world.regions.gemeenten[buurt.gemeente].code;
        (end - start) as f64 * factor("drugs.hennepruiming", gm)
    });
    let buurten = WeightedIndex::new(weights);
    let (mut ids, mut dwellings, mut years) = (vec![], vec![], vec![]);
    let mut in_2021 = 0.0;
    for (y, year) in YEARS.enumerate() {
        for _ in 0..ctx.scaled(HENNEP[y], rng) {
            let (start, end) = world.dwellings.range[buurten.sample(rng)];
            if end > start {
                ids.push(ids.len() as i64 + 1);
                dwellings.push(i64::from(rng.random_range(start..end)) + 1);
                years.push(year);
                in_2021 += f64::from(year == 2021);
            }
        }
    }
    ctx.target("hennepruimingen 2021", 2_285.0, in_2021);
    out.write(Columns::new().int64("ruiming_id", ids).int64("woning_id", dwellings).int32("jaar", years))?;
    Ok(())
}

/// A holiday park or campsite.
pub struct Park {
    pub gemeente: usize,
    pub buurt: usize,
    pub camping: bool,
    pub objects: i32,
    pub vital: bool,
}

/// How much more likely a buurt in this provincie holds a park.
fn park_weight(provincie: &str) -> f64 {
    match provincie {
        "Gelderland" => 3.0,
        "Noord-Brabant" | "Zeeland" => 2.5,
        "Limburg" | "Drenthe" => 2.0,
        "Overijssel" | "Flevoland" => 1.5,
        "Friesland" | "Fryslân" => 1.2,
        _ => 0.5,
    }
}

pub fn parks(world: &World, rng: &mut ChaCha8Rng) -> Vec<Park> {
    let regions = &world.regions;
    let count = ((4_100.0 * world.scale).round() as usize).max(200);
    let weights = regions.buurten.iter().map(|b| park_weight(&regions.gemeenten[b.gemeente].provincie));
    let places = WeightedIndex::new(weights);
    let dronten: Vec<usize> = regions
        .buurten
        .iter()
        .enumerate()
        .filter(|(_, b)| regions.gemeenten[b.gemeente].code == "GM0303")
        .map(|(i, _)| i)
        .collect();
    (0..count)
        .map(|i| {
            // Dronten holds a known cluster of parks (1,190 registered residents in 2024).
            let buurt = if i % 40 == 0 && !dronten.is_empty() {
                *dronten.choose(rng).expect("not empty")
            } else {
                places.sample(rng)
            };
            let camping = rng.random::<f64>() < 2_600.0 / 4_100.0;
            let objects = if camping { rng.random_range(20..400) } else { rng.random_range(10..600) };
            Park {
                gemeente: regions.buurten[buurt].gemeente,
                buurt,
                camping,
                objects,
                vital: rng.random::<f64>() > 1.0 / 3.0,
            }
        })
        .collect()
}

/// Persons registered at a park address on 1 January: 51,750 (2019) growing to 59,000 (2024).
const PARK_RESIDENTS: [f64; 6] = [51_750.0, 53_200.0, 54_650.0, 56_100.0, 57_550.0, 59_000.0];

pub fn inschrijving(
    ctx: &mut Ctx,
    parks: &[Park],
    rng: &mut ChaCha8Rng,
    out: &mut TableWriter,
) -> Result<(), GenError> {
    let world = ctx.world;
    let regions = &world.regions;
    let weights = parks.iter().map(|p| {
        let provincie = &regions.gemeenten[p.gemeente].provincie;
        let planted = factor("vakantieparken.inschrijving", &regions.gemeenten[p.gemeente].code);
        f64::from(p.objects) * park_weight(provincie) * planted
    });
    let park_choice = WeightedIndex::new(weights);
    let mut park_of: HashMap<usize, usize> = HashMap::new();
    let totals: Vec<usize> = PARK_RESIDENTS.iter().map(|&n| ctx.scaled(n, rng)).collect();
    let sets = yearly_sets(&totals, 0.85, rng, |rng, y| {
        let park = park_choice.sample(rng);
        let year = 2019 + y as i32;
        // Residents come from the park's own buurt and gemeente when possible; more 65+.
        let (start, end) = world.persons.range[parks[park].buurt];
        let person = if end > start && rng.random::<f64>() < 0.5 {
            rng.random_range(start..end) as usize
        } else {
            crate::world::adult(&world.persons, rng)
        };
        let accept = world.persons.age(person, year) >= 65 || rng.random::<f64>() < 0.75;
        (accept && world.persons.age(person, year) >= 16).then(|| {
            park_of.entry(person).or_insert(park);
            person
        })
    });
    let (mut who, mut park_ids, mut dates) = (vec![], vec![], vec![]);
    for (y, set) in sets.iter().enumerate() {
        for &person in set {
            who.push(Persons::id(person));
            park_ids.push(park_of[&person] as i64 + 1);
            dates.push(days_since_epoch(2019 + y as i32));
        }
    }
    ctx.target("ingeschreven op vakantiepark 2024", 59_000.0, sets[5].len() as f64);
    out.write(Columns::new().int64("persoon_id", who).int64("park_id", park_ids).date32("peildatum", dates))?;
    Ok(())
}

/// Days from 1970-01-01 to 1 January of `year`.
pub fn days_since_epoch(year: i32) -> i32 {
    (1970..year).map(|y| if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 366 } else { 365 }).sum()
}

/// Care providers: the establishments with a care activity, with convictions (about 4%, 9-10%
/// in Den Haag and Diemen) and whether care activity is registered.
pub fn zorgaanbieder(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<Vec<Provider>, GenError> {
    let world = ctx.world;
    let v = &world.businesses;
    let mut providers = Vec::new();
    let (mut ids, mut vestigingen, mut buurten, mut convicted, mut registered) =
        (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..v.sbi.len() {
        if !crate::sbi::CARE_CODES.contains(&crate::sbi::SBI[v.sbi[i] as usize].code) {
            continue;
        }
        let buurt = v.buurt[i] as usize;
        let p = 0.038 * factor("zorgfraude.zorgaanbieder", ctx.gm_code(buurt));
        let is_convicted = rng.random::<f64>() < p;
        providers.push(Provider { id: v.onderneming[i], convicted: is_convicted });
        ids.push(v.onderneming[i]);
        vestigingen.push(i as i64 + 1);
        buurten.push(world.regions.buurten[buurt].code.clone());
        convicted.push(is_convicted);
        registered.push(rng.random::<f64>() < 0.93);
    }
    let n = providers.len() as f64;
    let share = providers.iter().filter(|p| p.convicted).count() as f64 / n.max(1.0);
    ctx.target("pgb-zorgaanbieders", 140_000.0, n);
    ctx.target("aandeel veroordeeld (not scaled)", 0.04 / world.scale, share);
    out.write(
        Columns::new()
            .int64("aanbieder_id", ids)
            .int64("vestiging_id", vestigingen)
            .text("bu_code", buurten)
            .boolean("veroordeeld", convicted)
            .boolean("zorg_activiteit_geregistreerd", registered),
    )?;
    Ok(providers)
}

pub struct Provider {
    pub id: i64,
    pub convicted: bool,
}

/// Pgb declarations: about EUR 2.7 billion a year, convicted providers declaring ~30% more each.
pub fn pgb_declaratie(
    ctx: &mut Ctx,
    providers: &[Provider],
    rng: &mut ChaCha8Rng,
    out: &mut TableWriter,
) -> Result<(), GenError> {
    let world = ctx.world;
    let clients = Poisson::new(3.0).expect("valid");
    let pairs: Vec<(usize, i64)> = providers
        .iter()
        .enumerate()
        .flat_map(|(k, _)| {
            let n = 1 + clients.sample(rng) as usize;
            (0..n).map(|_| (k, Persons::id(rng.random_range(0..world.persons.len())))).collect::<Vec<_>>()
        })
        .collect();
    let per_row = 2.7e9 * world.scale / (pairs.len() as f64 * 0.9).max(1.0);
    let amount = LogNormal::new(per_row.ln() - 0.5 - 0.012, 1.0).expect("valid");
    let mut c = (vec![], vec![], vec![], vec![], vec![]);
    let (mut total_2020, mut convicted_2020) = (0.0, 0.0);
    for year in YEARS {
        for &(k, client) in &pairs {
            if rng.random::<f64>() < 0.9 {
                let uplift = if providers[k].convicted { 1.3 } else { 1.0 };
                let bedrag = (amount.sample(rng) * uplift).round();
                if year == 2020 {
                    total_2020 += bedrag;
                    convicted_2020 += if providers[k].convicted { bedrag } else { 0.0 };
                }
                c.0.push(c.0.len() as i64 + 1);
                c.1.push(client);
                c.2.push(providers[k].id);
                c.3.push(year);
                c.4.push(bedrag);
            }
        }
    }
    ctx.target("pgb gedeclareerd 2020 (EUR)", 2.7e9, total_2020);
    ctx.target(
        "aandeel veroordeelden in pgb-bedrag (not scaled)",
        0.052 / world.scale,
        convicted_2020 / total_2020.max(1.0),
    );
    out.write(
        Columns::new()
            .int64("declaratie_id", c.0)
            .int64("budgethouder_id", c.1)
            .int64("aanbieder_id", c.2)
            .int32("jaar", c.3)
            .float64("bedrag", c.4),
    )?;
    Ok(())
}

/// Risk factors of persons aged 12-23, one row a person and year, written in chunks.
pub fn kenmerk(
    ctx: &mut Ctx,
    suspects: &SuspectHouseholds,
    rng: &mut ChaCha8Rng,
    out: &mut TableWriter,
) -> Result<(), GenError> {
    let world = ctx.world;
    let persons = &world.persons;
    let mut chunk = YouthColumns::default();
    for (y, year) in YEARS.enumerate() {
        for p in 0..persons.len() {
            let age = persons.age(p, year);
            if !(12..=23).contains(&age) {
                continue;
            }
            let buurt = persons.buurt[p] as usize;
            let income = world.regions.wijken[world.regions.buurten[buurt].wijk].inkomen;
            let risk = (30_000.0 / income).powf(1.5) * factor("jongeren.kenmerk", ctx.gm_code(buurt));
            let network = suspects[..=y].iter().any(|homes| homes.contains(&persons.household[p]));
            let flag =
                |rng: &mut ChaCha8Rng, p0: f64| rng.random::<f64>() < p0 * risk * if network { 3.0 } else { 1.0 };
            chunk.person.push(Persons::id(p));
            chunk.year.push(year);
            chunk.jeugdreclassering.push(flag(rng, 0.008));
            chunk.detentie.push(flag(rng, 0.003));
            chunk.schulden.push(age >= 18 && flag(rng, 0.05));
            chunk.geen_inkomen.push(age >= 18 && flag(rng, 0.06));
            chunk.wanbetaler.push(age >= 18 && flag(rng, 0.015));
            chunk.network.push(network);
            if chunk.person.len() >= CHUNK {
                out.write(std::mem::take(&mut chunk).into_columns())?;
            }
        }
    }
    out.write(chunk.into_columns())?;
    Ok(())
}

#[derive(Default)]
struct YouthColumns {
    person: Vec<i64>,
    year: Vec<i32>,
    jeugdreclassering: Vec<bool>,
    detentie: Vec<bool>,
    schulden: Vec<bool>,
    geen_inkomen: Vec<bool>,
    wanbetaler: Vec<bool>,
    network: Vec<bool>,
}

impl YouthColumns {
    fn into_columns(self) -> Columns {
        Columns::new()
            .int64("persoon_id", self.person)
            .int32("jaar", self.year)
            .boolean("jeugdreclassering", self.jeugdreclassering)
            .boolean("eerdere_detentie", self.detentie)
            .boolean("problematische_schulden", self.schulden)
            .boolean("geen_inkomen", self.geen_inkomen)
            .boolean("zvw_wanbetaler", self.wanbetaler)
            .boolean("netwerk_verdachte", self.network)
    }
}

/// FIU-Nederland unusual-transaction reports per year (2021-2023 published; others interpolated).
const MELDINGEN: [f64; 6] = [80_000.0, 88_000.0, 96_676.0, 91_893.0, 180_578.0, 185_000.0];
const MELDERGROEPEN: [(&str, f64); 7] = [
    ("bank", 0.55),
    ("betaaldienstverlener", 0.2),
    ("geldtransactiekantoor", 0.1),
    ("notaris", 0.03),
    ("makelaar", 0.02),
    ("handelaar", 0.07),
    ("casino", 0.03),
];

pub fn melding(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<(), GenError> {
    let world = ctx.world;
    let sampler = PersonSampler::new(world, "transacties.melding", 0.3);
    let groups = WeightedIndex::new(MELDERGROEPEN.iter().map(|g| g.1));
    let amount = LogNormal::new(8_000f64.ln(), 1.5).expect("valid");
    let mut c = (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut counts = [0.0; 6];
    for (y, year) in YEARS.enumerate() {
        for _ in 0..ctx.scaled(MELDINGEN[y], rng) {
            let Some(person) = sampler.sample(world, rng, adult_in(world, year)) else { continue };
            counts[y] += 1.0;
            c.0.push(c.0.len() as i64 + 1);
            c.1.push(Persons::id(person));
            let business = rng.random::<f64>() < 0.3 && !world.businesses.sbi.is_empty();
            c.2.push(business.then(|| rng.random_range(0..world.businesses.sbi.len()) as i64 + 1));
            c.3.push(ctx.bu_code(person).to_string());
            c.4.push(year);
            c.5.push(amount.sample(rng).round());
            c.6.push(MELDERGROEPEN[groups.sample(rng)].0);
            c.7.push(rng.random::<f64>() < 0.3);
        }
    }
    for (y, year) in [(2, 2021), (3, 2022), (4, 2023)] {
        ctx.target(&format!("FIU-meldingen {year}"), MELDINGEN[y], counts[y]);
    }
    out.write(
        Columns::new()
            .int64("melding_id", c.0)
            .int64("persoon_id", c.1)
            .opt_int64("vestiging_id", c.2)
            .text("bu_code", c.3)
            .int32("jaar", c.4)
            .float64("bedrag", c.5)
            .text("meldergroep", c.6)
            .boolean("verdacht_verklaard", c.7),
    )?;
    Ok(())
}

/// Logistic hubs: name, gemeente, employees at scale 1.
const HUBS: [(&str, &str, f64); 7] = [
    ("haven Rotterdam", "GM0599", 100_000.0),
    ("Schiphol", "GM0394", 65_000.0),
    ("haven Amsterdam", "GM0363", 30_000.0),
    ("Venlo", "GM0983", 15_000.0),
    ("Moerdijk", "GM1709", 10_000.0),
    ("Vlissingen", "GM0718", 6_000.0),
    ("Eemshaven", "GM1979", 3_000.0),
];

pub fn knooppunt_werknemer(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<(), GenError> {
    let world = ctx.world;
    let regions = &world.regions;
    let mut c = (vec![], vec![], vec![], vec![]);
    for (name, gm, size) in HUBS {
        let Some(hub) = regions.gemeente_by_code(gm) else { continue };
        let provincie = &regions.gemeenten[hub].provincie;
        // Workers live in the hub's provincie, most in the hub gemeente itself.
        let weights = regions.buurten.iter().enumerate().map(|(b, buurt)| {
            let g = &regions.gemeenten[buurt.gemeente];
            let near = if buurt.gemeente == hub {
                5.0
            } else if &g.provincie == provincie {
                1.0
            } else {
                0.02
            };
            let (start, end) = world.persons.range[b];
            (end - start) as f64 * near * factor("logistiek.knooppunt_werknemer", &g.code)
        });
        let homes = WeightedIndex::new(weights);
        let employers: Vec<usize> = (0..world.businesses.buurt.len())
            .filter(|&i| regions.buurten[world.businesses.buurt[i] as usize].gemeente == hub)
            .collect();
        let totals: Vec<usize> = YEARS.map(|y| ctx.scaled(size * (1.0 + 0.02 * f64::from(y - 2019)), rng)).collect();
        let sets = yearly_sets(&totals, 0.85, rng, |rng, y| {
            let (start, end) = world.persons.range[homes.sample(rng)];
            (end > start)
                .then(|| rng.random_range(start..end) as usize)
                .filter(|&p| (18..=67).contains(&world.persons.age(p, 2019 + y as i32)))
        });
        for (y, set) in sets.iter().enumerate() {
            for &person in set {
                let employer = employers.choose(rng).copied().unwrap_or(person % world.businesses.buurt.len().max(1));
                c.0.push(Persons::id(person));
                c.1.push(employer as i64 + 1);
                c.2.push(name);
                c.3.push(2019 + y as i32);
            }
        }
    }
    out.write(
        Columns::new().int64("persoon_id", c.0).int64("vestiging_id", c.1).text("knooppunt", c.2).int32("jaar", c.3),
    )?;
    Ok(())
}

const AANGIFTEN: [f64; 6] = [100_000.0, 110_000.0, 120_000.0, 130_000.0, 140_000.0, 150_000.0];
const DELICTEN: [(&str, f64); 6] = [
    ("phishing", 0.3),
    ("helpdeskfraude", 0.15),
    ("webwinkelfraude", 0.35),
    ("hacken", 0.1),
    ("sextortion", 0.05),
    ("ransomware", 0.05),
];

pub fn aangifte(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<(), GenError> {
    let world = ctx.world;
    let sampler = PersonSampler::new(world, "digitaal.aangifte", 0.0);
    let delict = WeightedIndex::new(DELICTEN.iter().map(|d| d.1));
    let damage = LogNormal::new(500f64.ln(), 1.5).expect("valid");
    let mut c = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (y, year) in YEARS.enumerate() {
        for _ in 0..ctx.scaled(AANGIFTEN[y], rng) {
            let Some(victim) = sampler.sample(world, rng, adult_in(world, year)) else { continue };
            c.0.push(c.0.len() as i64 + 1);
            c.1.push(Persons::id(victim));
            c.2.push(ctx.bu_code(victim).to_string());
            c.3.push(year);
            c.4.push(DELICTEN[delict.sample(rng)].0);
            c.5.push(damage.sample(rng).round());
        }
    }
    out.write(
        Columns::new()
            .int64("aangifte_id", c.0)
            .int64("slachtoffer_id", c.1)
            .text("bu_code", c.2)
            .int32("jaar", c.3)
            .text("delict", c.4)
            .float64("schade", c.5),
    )?;
    Ok(())
}

pub fn schulden(ctx: &mut Ctx, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<(), GenError> {
    let world = ctx.world;
    let sampler = PersonSampler::new(world, "schulden.registratie", 1.5);
    let totals: Vec<usize> = YEARS.map(|_| ctx.scaled(700_000.0, rng)).collect();
    let sets = yearly_sets(&totals, 0.7, rng, |rng, y| sampler.sample(world, rng, adult_in(world, 2019 + y as i32)));
    let mut c = (vec![], vec![], vec![], vec![], vec![]);
    for (y, set) in sets.iter().enumerate() {
        let mut set = set.clone();
        set.shuffle(rng);
        for person in set {
            let problematisch = rng.random::<f64>() < 0.6;
            let achterstand = rng.random::<f64>() < 0.4;
            c.0.push(Persons::id(person));
            c.1.push(2019 + y as i32);
            c.2.push(problematisch || !achterstand);
            c.3.push(achterstand);
            c.4.push(rng.random::<f64>() < 0.25);
        }
    }
    out.write(
        Columns::new()
            .int64("persoon_id", c.0)
            .int32("jaar", c.1)
            .boolean("problematische_schuld", c.2)
            .boolean("betalingsachterstand_zvw", c.3)
            .boolean("schuldhulp", c.4),
    )?;
    Ok(())
}
