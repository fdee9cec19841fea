//! Synthetic microdata for the Zicht warehouse.
//!
//! The real microdata behind the "Zicht op" products live in CBS's secure environment, so the
//! warehouse serves synthetic unit-level data with realistic volumes: persons, households,
//! dwellings and businesses spread over the real 2024 buurten (Bron: CBS), and every theme table of
//! the catalog for 2019-2024, calibrated at scale 1 to published national totals. Known regional
//! hot spots are planted per theme and written as ground truth beside the data
//! ([`ground_truth_path`]), outside anything the engine serves.
//!
//! Output is one Parquet file per catalog table with exactly the catalog's schema, deterministic
//! for a seed and scale, and written atomically: into a temporary sibling directory that replaces
//! the target only when complete.

mod hotspots;
mod regions;
mod sbi;
mod tables;
mod themes;
mod world;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zicht_catalog::{Catalog, TableDef};

use themes::Ctx;
use writer::TableWriter;

pub use hotspots::HotSpot;

#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    /// 1 is the Netherlands; protected tables scale linearly, region tables never.
    pub scale: f64,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub enum Progress {
    TableStarted { table: String },
    TableFinished { table: String, rows: u64, bytes: u64, seconds: f64 },
}

#[derive(Debug, Clone)]
pub struct TableSummary {
    pub table: String,
    pub rows: u64,
    pub bytes: u64,
}

/// A national total at this scale against what was generated.
#[derive(Debug, Clone)]
pub struct CalibrationRow {
    pub quantity: String,
    pub target: f64,
    pub actual: f64,
}

impl CalibrationRow {
    pub fn ratio(&self) -> f64 {
        if self.target == 0.0 { f64::NAN } else { self.actual / self.target }
    }
}

#[derive(Debug, Clone)]
pub struct GenSummary {
    pub tables: Vec<TableSummary>,
    pub calibration: Vec<CalibrationRow>,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("scale must be a number above 0 and at most 2, not {0}")]
    Scale(f64),
    #[error("the generator does not know catalog table {0}")]
    UnknownTable(String),
    #[error("schema mismatch: {0}")]
    Schema(String),
    #[error("reference data: {0}")]
    Data(String),
    #[error("cannot write the dataset: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// The tables the generator knows, in the order they are made (later ones use earlier results).
const TABLES: &[&str] = &[
    "regio.gemeente",
    "regio.wijk",
    "regio.buurt",
    "ref.sbi",
    "ref.drugsfeit",
    "ref.misdrijf_nl",
    "basis.persoon",
    "basis.woning",
    "basis.vestiging",
    "vastgoed.transactie",
    "drugs.verdachte",
    "drugs.hennepruiming",
    "vakantieparken.park",
    "vakantieparken.inschrijving",
    "zorgfraude.zorgaanbieder",
    "zorgfraude.pgb_declaratie",
    "jongeren.kenmerk",
    "transacties.melding",
    "logistiek.knooppunt_werknemer",
    "digitaal.aangifte",
    "schulden.registratie",
];

/// Where the planted hot spots are written, beside the data.
pub fn ground_truth_path(out: &Path) -> PathBuf {
    out.join("_ground_truth").join("hotspots.json")
}

/// Generates every catalog table into `out`, replacing it atomically.
pub fn generate(
    catalog: &Catalog,
    config: &GenConfig,
    out: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<GenSummary, GenError> {
    if !(config.scale.is_finite() && config.scale > 0.0 && config.scale <= 2.0) {
        return Err(GenError::Scale(config.scale));
    }
    if let Some(unknown) = catalog.tables.iter().find(|t| !TABLES.contains(&t.qualified_name().as_str())) {
        return Err(GenError::UnknownTable(unknown.qualified_name()));
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "zicht".into());
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    match generate_into(catalog, config, &staging, progress) {
        Ok(summary) => {
            replace(&staging, out)?;
            Ok(summary)
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(error)
        }
    }
}

/// Moves the finished dataset into place; an old one is moved aside first and removed after.
fn replace(staging: &Path, out: &Path) -> Result<(), GenError> {
    if out.exists() {
        let old = out.with_file_name(format!(
            ".{}.old-{}",
            out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ));
        std::fs::rename(out, &old)?;
        std::fs::rename(staging, out)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(staging, out)?;
    }
    Ok(())
}

/// A random stream per table: tables do not depend on each other's draws, so adding one changes
/// no other.
fn rng_for(seed: u64, table: &str) -> ChaCha8Rng {
    let hash = table.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    ChaCha8Rng::seed_from_u64(seed ^ hash)
}

fn generate_into(
    catalog: &Catalog,
    config: &GenConfig,
    out: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<GenSummary, GenError> {
    let started = Instant::now();
    let regions = regions::Regions::load()?;
    let world = world::build(regions, config.scale, &mut rng_for(config.seed, "world"));
    let mut calibration = world_calibration(&world);
    let parks = themes::parks(&world, &mut rng_for(config.seed, "vakantieparken.park"));
    let mut state = ThemeState::default();
    let mut tables = Vec::new();
    for name in TABLES {
        let (schema, table) = name.split_once('.').expect("qualified");
        let definition = catalog.table(schema, table);
        let mut rng = rng_for(config.seed, name);
        let mut ctx = Ctx { world: &world, calibration: &mut calibration };
        let table_started = Instant::now();
        progress(&Progress::TableStarted { table: name.to_string() });
        let summary = write_table(name, definition, out, &mut ctx, &parks, &mut state, &mut rng)?;
        if let Some(summary) = summary {
            progress(&Progress::TableFinished {
                table: summary.table.clone(),
                rows: summary.rows,
                bytes: summary.bytes,
                seconds: table_started.elapsed().as_secs_f64(),
            });
            tables.push(summary);
        }
    }
    write_ground_truth(&world, out)?;
    Ok(GenSummary { tables, calibration, seconds: started.elapsed().as_secs_f64() })
}

/// Results of one theme that a later one needs.
#[derive(Default)]
struct ThemeState {
    suspects: themes::SuspectHouseholds,
    providers: Vec<themes::Provider>,
}

/// Writes one table; tables the catalog leaves out are still computed when later ones need them.
fn write_table(
    name: &str,
    definition: Option<&TableDef>,
    out: &Path,
    ctx: &mut Ctx,
    parks: &[themes::Park],
    state: &mut ThemeState,
    rng: &mut ChaCha8Rng,
) -> Result<Option<TableSummary>, GenError> {
    let scratch;
    let mut writer = match definition {
        Some(definition) => TableWriter::create(out, definition)?,
        None => {
            scratch = tempdir_for(out);
            TableWriter::create(&scratch, &placeholder_definition(name)?)?
        }
    };
    let world = ctx.world;
    match name {
        "regio.gemeente" => tables::gemeente(world, &mut writer)?,
        "regio.wijk" => tables::wijk(world, &mut writer)?,
        "regio.buurt" => tables::buurt(world, &mut writer)?,
        "ref.sbi" => tables::sbi(&mut writer)?,
        "ref.drugsfeit" => tables::drugsfeit(&mut writer)?,
        "ref.misdrijf_nl" => tables::misdrijf_nl(&mut writer)?,
        "basis.persoon" => tables::persoon(world, &mut writer)?,
        "basis.woning" => tables::woning(world, rng, &mut writer)?,
        "basis.vestiging" => tables::vestiging(world, &mut writer)?,
        "vastgoed.transactie" => themes::transactie(ctx, rng, &mut writer)?,
        "drugs.verdachte" => state.suspects = themes::verdachte(ctx, rng, &mut writer)?,
        "drugs.hennepruiming" => themes::hennepruiming(ctx, rng, &mut writer)?,
        "vakantieparken.park" => tables::park(world, parks, &mut writer)?,
        "vakantieparken.inschrijving" => themes::inschrijving(ctx, parks, rng, &mut writer)?,
        "zorgfraude.zorgaanbieder" => state.providers = themes::zorgaanbieder(ctx, rng, &mut writer)?,
        "zorgfraude.pgb_declaratie" => themes::pgb_declaratie(ctx, &state.providers, rng, &mut writer)?,
        "jongeren.kenmerk" => themes::kenmerk(ctx, &state.suspects, rng, &mut writer)?,
        "transacties.melding" => themes::melding(ctx, rng, &mut writer)?,
        "logistiek.knooppunt_werknemer" => themes::knooppunt_werknemer(ctx, rng, &mut writer)?,
        "digitaal.aangifte" => themes::aangifte(ctx, rng, &mut writer)?,
        "schulden.registratie" => themes::schulden(ctx, rng, &mut writer)?,
        other => return Err(GenError::UnknownTable(other.to_string())),
    }
    let summary = writer.finish()?;
    Ok(definition.is_some().then_some(summary))
}

/// A table the catalog leaves out but a later table depends on is computed against the
/// embedded definition and written to a scratch folder that is removed with the staging folder.
fn placeholder_definition(name: &str) -> Result<TableDef, GenError> {
    let (schema, table) = name.split_once('.').expect("qualified");
    let embedded = Catalog::embedded().map_err(|e| GenError::Schema(e.to_string()))?;
    embedded.table(schema, table).cloned().ok_or_else(|| GenError::UnknownTable(name.to_string()))
}

fn tempdir_for(out: &Path) -> PathBuf {
    out.join("_scratch")
}

fn world_calibration(world: &world::World) -> Vec<CalibrationRow> {
    let scale = world.scale;
    let row = |quantity: &str, national: f64, actual: f64| CalibrationRow {
        quantity: quantity.to_string(),
        target: national * scale,
        actual,
    };
    let count_sbi =
        |code: &str| world.businesses.sbi.iter().filter(|&&s| sbi::SBI[s as usize].code == code).count() as f64;
    vec![
        row("inwoners", 17_942_942.0, world.persons.len() as f64),
        row("woningvoorraad", 8_204_049.0, world.dwellings.buurt.len() as f64),
        row("particuliere verhuurders", 280_000.0, world.dwellings.landlords as f64),
        row("vestigingen haarverzorging (96021)", 32_000.0, count_sbi("96021")),
        row("vestigingen schoonheidsverzorging (96022)", 47_900.0, count_sbi("96022")),
    ]
}

fn write_ground_truth(world: &world::World, out: &Path) -> Result<(), GenError> {
    let spots: Vec<HotSpot> = hotspots::PLANTED
        .iter()
        .filter_map(|&(theme, table, indicator, code, factor, real)| {
            let gemeente = world.regions.gemeente_by_code(code)?;
            Some(HotSpot {
                theme,
                table,
                indicator,
                level: "gemeente",
                code,
                naam: world.regions.gemeenten[gemeente].naam.clone(),
                factor,
                real,
            })
        })
        .collect();
    let path = ground_truth_path(out);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let json = serde_json::to_string_pretty(&spots).map_err(|e| GenError::Data(e.to_string()))?;
    std::fs::write(path, json)?;
    let scratch = tempdir_for(out);
    if scratch.exists() {
        std::fs::remove_dir_all(scratch)?;
    }
    Ok(())
}
