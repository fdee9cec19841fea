//! The public reference tables and the three basis tables, written from the regions and the
//! population.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::GenError;
use crate::regions::MISDRIJVEN;
use crate::sbi::SBI;
use crate::themes::Park;
use crate::world::{Persons, World};
use crate::writer::{Columns, TableWriter};

const CHUNK: usize = 1 << 20;

pub fn gemeente(world: &World, out: &mut TableWriter) -> Result<(), GenError> {
    let g = &world.regions.gemeenten;
    out.write(
        Columns::new()
            .text("gm_code", g.iter().map(|g| &g.code))
            .text("gm_naam", g.iter().map(|g| &g.naam))
            .text("provincie", g.iter().map(|g| &g.provincie))
            .text("vr_code", g.iter().map(|g| &g.vr_code))
            .text("vr_naam", g.iter().map(|g| &g.vr_naam))
            .text("politie_eenheid", g.iter().map(|g| &g.politie_eenheid))
            .text("riec_regio", g.iter().map(|g| &g.riec_regio))
            .int64("inwoners", g.iter().map(|g| g.inwoners).collect())
            .int64("woningen", g.iter().map(|g| g.woningen).collect()),
    )
}

pub fn wijk(world: &World, out: &mut TableWriter) -> Result<(), GenError> {
    let r = &world.regions;
    out.write(
        Columns::new()
            .text("wk_code", r.wijken.iter().map(|w| &w.code))
            .text("wk_naam", r.wijken.iter().map(|w| &w.naam))
            .text("gm_code", r.wijken.iter().map(|w| &r.gemeenten[w.gemeente].code))
            .int64("inwoners", r.wijken.iter().map(|w| w.inwoners).collect())
            .int64("woningen", r.wijken.iter().map(|w| w.woningen).collect()),
    )
}

pub fn buurt(world: &World, out: &mut TableWriter) -> Result<(), GenError> {
    let r = &world.regions;
    out.write(
        Columns::new()
            .text("bu_code", r.buurten.iter().map(|b| &b.code))
            .text("bu_naam", r.buurten.iter().map(|b| &b.naam))
            .text("wk_code", r.buurten.iter().map(|b| &r.wijken[b.wijk].code))
            .text("gm_code", r.buurten.iter().map(|b| &r.gemeenten[b.gemeente].code))
            .int64("inwoners", r.buurten.iter().map(|b| b.inwoners).collect())
            .int64("woningen", r.buurten.iter().map(|b| b.woningen).collect()),
    )
}

pub fn sbi(out: &mut TableWriter) -> Result<(), GenError> {
    out.write(
        Columns::new()
            .text("sbi_code", SBI.iter().map(|s| s.code))
            .text("omschrijving", SBI.iter().map(|s| s.omschrijving))
            .boolean("kwetsbaar", SBI.iter().map(|s| s.kwetsbaar).collect()),
    )
}

/// The Opiumwet offence codes as the police use them (politie/CBS 47018NED).
const DRUGSFEITEN: [(&str, &str, &str, &str); 6] = [
    ("F40", "Bezit harddrugs (lijst I)", "bezit", "I"),
    ("F41", "Bezit softdrugs (lijst II)", "bezit", "II"),
    ("F42", "Handel e.d. harddrugs (lijst I)", "handel", "I"),
    ("F43", "Handel e.d. softdrugs (lijst II)", "handel", "II"),
    ("F44", "Vervaardigen harddrugs (lijst I)", "vervaardigen", "I"),
    ("F45", "Vervaardigen softdrugs (lijst II)", "vervaardigen", "II"),
];

pub fn drugsfeit(out: &mut TableWriter) -> Result<(), GenError> {
    out.write(
        Columns::new()
            .text("feit_code", DRUGSFEITEN.iter().map(|f| f.0))
            .text("omschrijving", DRUGSFEITEN.iter().map(|f| f.1))
            .text("handeling", DRUGSFEITEN.iter().map(|f| f.2))
            .text("lijst", DRUGSFEITEN.iter().map(|f| f.3)),
    )
}

pub fn misdrijf_nl(out: &mut TableWriter) -> Result<(), GenError> {
    let (mut soort, mut jaar, mut aantal) = (Vec::new(), Vec::new(), Vec::new());
    for record in csv::Reader::from_reader(MISDRIJVEN.as_bytes()).records() {
        let r = record.map_err(|e| GenError::Data(format!("nl_misdrijven_2012_2023.csv: {e}")))?;
        let (Ok(year), Ok(count)) = (r[1].parse::<i32>(), r[2].parse::<i64>()) else { continue };
        soort.push(r[0].to_string());
        jaar.push(year);
        aantal.push(count);
    }
    out.write(Columns::new().text("soort", soort).int32("jaar", jaar).int64("aantal", aantal))
}

pub fn park(world: &World, parks: &[Park], out: &mut TableWriter) -> Result<(), GenError> {
    let r = &world.regions;
    out.write(
        Columns::new()
            .int64("park_id", (1..=parks.len() as i64).collect())
            .text("gm_code", parks.iter().map(|p| &r.gemeenten[p.gemeente].code))
            .text("bu_code", parks.iter().map(|p| &r.buurten[p.buurt].code))
            .text("soort", parks.iter().map(|p| if p.camping { "camping" } else { "bungalowpark" }))
            .int32("aantal_objecten", parks.iter().map(|p| p.objects).collect())
            .boolean("vitaal", parks.iter().map(|p| p.vital).collect()),
    )
}

const GESLACHT: [&str; 2] = ["vrouw", "man"];
const HERKOMST: [&str; 3] = ["Nederland", "Europa (excl. NL)", "buiten Europa"];

pub fn persoon(world: &World, out: &mut TableWriter) -> Result<(), GenError> {
    let p = &world.persons;
    let buurten = &world.regions.buurten;
    for start in (0..p.len()).step_by(CHUNK) {
        let range = start..(start + CHUNK).min(p.len());
        out.write(
            Columns::new()
                .int64("persoon_id", range.clone().map(Persons::id).collect())
                .int64("huishouden_id", range.clone().map(|i| i64::from(p.household[i])).collect())
                .text("bu_code", range.clone().map(|i| &buurten[p.buurt[i] as usize].code))
                .int32("geboortejaar", range.clone().map(|i| i32::from(p.birth_year[i])).collect())
                .text("geslacht", range.clone().map(|i| GESLACHT[usize::from(p.male[i])]))
                .text("herkomst", range.clone().map(|i| HERKOMST[p.herkomst[i] as usize]))
                .float64("inkomen", range.clone().map(|i| f64::from(p.income[i]).round()).collect())
                .float64("vermogen", range.map(|i| f64::from(p.wealth[i]).round()).collect()),
        )?;
    }
    Ok(())
}

const EIGENDOM: [&str; 3] = ["koop", "corporatie", "particuliere_huur"];
const EIGENAAR_TYPE: [&str; 4] = ["persoon", "rechtspersoon", "stichting", "onbekend"];

pub fn woning(world: &World, rng: &mut ChaCha8Rng, out: &mut TableWriter) -> Result<(), GenError> {
    let d = &world.dwellings;
    let buurten = &world.regions.buurten;
    for start in (0..d.buurt.len()).step_by(CHUNK) {
        let range = start..(start + CHUNK).min(d.buurt.len());
        // A small share of owners is unknown to the register.
        let unknown: Vec<bool> = range.clone().map(|_| rng.random::<f64>() < 0.005).collect();
        out.write(
            Columns::new()
                .int64("woning_id", range.clone().map(|i| i as i64 + 1).collect())
                .text("bu_code", range.clone().map(|i| &buurten[d.buurt[i] as usize].code))
                .int32("bouwjaar", range.clone().map(|i| i32::from(d.bouwjaar[i])).collect())
                .float64("woz_waarde", range.clone().map(|i| (f64::from(d.woz[i]) / 1000.0).round() * 1000.0).collect())
                .text("eigendom", range.clone().map(|i| EIGENDOM[d.eigendom[i] as usize]))
                .opt_int64(
                    "eigenaar_id",
                    range.clone().zip(&unknown).map(|(i, &u)| (!u).then_some(d.owner[i])).collect(),
                )
                .text(
                    "eigenaar_type",
                    range
                        .zip(&unknown)
                        .map(|(i, &u)| if u { EIGENAAR_TYPE[3] } else { EIGENAAR_TYPE[d.owner_type[i] as usize] }),
                ),
        )?;
    }
    Ok(())
}

pub fn vestiging(world: &World, out: &mut TableWriter) -> Result<(), GenError> {
    let v = &world.businesses;
    let buurten = &world.regions.buurten;
    for start in (0..v.buurt.len()).step_by(CHUNK) {
        let range = start..(start + CHUNK).min(v.buurt.len());
        out.write(
            Columns::new()
                .int64("vestiging_id", range.clone().map(|i| i as i64 + 1).collect())
                .int64("onderneming_id", range.clone().map(|i| v.onderneming[i]).collect())
                .text("sbi_code", range.clone().map(|i| SBI[v.sbi[i] as usize].code))
                .text("bu_code", range.clone().map(|i| &buurten[v.buurt[i] as usize].code))
                .int32("oprichtingsjaar", range.clone().map(|i| i32::from(v.founded[i])).collect())
                .float64("omzet", range.clone().map(|i| f64::from(v.omzet[i]).round()).collect())
                .int32("werkzame_personen", range.map(|i| i32::from(v.workers[i])).collect()),
        )?;
    }
    Ok(())
}
