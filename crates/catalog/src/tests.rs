use super::*;

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const WAREHOUSE: &str = "name = \"test\"\n[suppression]\nk = 10\n";

const PERSON: &str = r#"
description = "persons"
class = "protected"
source = "basis/persoon.parquet"
units = { persoon = "persoon_id" }
columns = [
  { name = "persoon_id", type = "Int64", description = "id", nullable = false },
  { name = "inkomen", type = "Float64", description = "income", unit = "EUR" },
]
"#;

fn problems_of(dir: &Path) -> Vec<String> {
    match Catalog::load_dir(dir) {
        Err(CatalogError::Invalid(problems)) => problems.iter().map(|p| p.to_string()).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn embedded_catalog_has_every_contract_table() {
    let catalog = Catalog::embedded().unwrap();
    let expected = [
        "regio.gemeente",
        "regio.wijk",
        "regio.buurt",
        "ref.sbi",
        "ref.drugsfeit",
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
    for name in expected {
        let (schema, table) = name.split_once('.').unwrap();
        assert!(catalog.table(schema, table).is_some(), "{name} missing");
    }
    assert_eq!(catalog.warehouse.suppression, SuppressionParams::default());
}

#[test]
fn protected_tables_name_existing_unit_columns() {
    let catalog = Catalog::embedded().unwrap();
    let persoon = catalog.table("basis", "persoon").unwrap();
    let units: Vec<_> = persoon.units().collect();
    assert_eq!(units, vec![(EntityType::Persoon, "persoon_id"), (EntityType::Huishouden, "huishouden_id")]);
    assert!(catalog.table("regio", "buurt").unwrap().units().next().is_none());
}

#[test]
fn arrow_schema_carries_types_and_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    write(dir.path(), "basis/persoon.toml", PERSON);
    let catalog = Catalog::load_dir(dir.path()).unwrap();
    let schema = catalog.table("basis", "persoon").unwrap().arrow_schema();
    let income = schema.field_with_name("inkomen").unwrap();
    assert_eq!(income.data_type(), &arrow_schema::DataType::Float64);
    assert_eq!(income.metadata()["unit"], "EUR");
    assert!(!schema.field_with_name("persoon_id").unwrap().is_nullable());
}

#[test]
fn table_overrides_warehouse_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    write(dir.path(), "basis/persoon.toml", &format!("{PERSON}\n[suppression]\nk = 15\n"));
    let catalog = Catalog::load_dir(dir.path()).unwrap();
    let params = catalog.table("basis", "persoon").unwrap().suppression;
    assert_eq!(params.k, 15);
    assert_eq!(params.dominance_n, 2);
}

#[test]
fn unknown_keys_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    write(dir.path(), "basis/persoon.toml", &PERSON.replace("class =", "colour = \"red\"\nclass ="));
    let problems = problems_of(dir.path());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("basis/persoon.toml: line 3: unknown field `colour`"), "{problems:?}");
}

#[test]
fn bad_types_and_missing_unit_columns_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    let broken = PERSON
        .replace("\"Float64\"", "\"Decimal(3)\"")
        .replace("units = { persoon = \"persoon_id\" }", "units = { persoon = \"pid\", huisdier = \"persoon_id\" }");
    write(dir.path(), "basis/persoon.toml", &broken);
    let problems = problems_of(dir.path()).join("\n");
    assert!(problems.contains("column inkomen has type \"Decimal(3)\""), "{problems}");
    assert!(problems.contains("unit column pid (persoon) is not a column"), "{problems}");
    assert!(problems.contains("unknown entity type \"huisdier\""), "{problems}");
}

#[test]
fn protection_floors_cannot_be_configured_away() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    write(dir.path(), "basis/persoon.toml", &format!("{PERSON}\n[suppression]\nk = 1\ndominance_k = 150.0\n"));
    let problems = problems_of(dir.path()).join("\n");
    assert!(problems.contains("suppression.k = 1 is below the floor"), "{problems}");
    assert!(problems.contains("dominance_k = 150"), "{problems}");
}

#[test]
fn protected_table_without_units_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    write(dir.path(), "basis/persoon.toml", &PERSON.replace("units = { persoon = \"persoon_id\" }", ""));
    let problems = problems_of(dir.path()).join("\n");
    assert!(problems.contains("must name at least one unit column"), "{problems}");
}

#[test]
fn misplaced_files_and_escaping_sources_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    write(dir.path(), "persoon.toml", PERSON);
    write(dir.path(), "basis/woning.toml", &PERSON.replace("basis/persoon.parquet", "../../etc/passwd"));
    let problems = problems_of(dir.path()).join("\n");
    assert!(problems.contains("persoon.toml: a table file must be <schema>/<table>.toml"), "{problems}");
    assert!(problems.contains("basis/woning.toml: source \"../../etc/passwd\""), "{problems}");
}

#[test]
fn missing_sources_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    write(dir.path(), "basis/persoon.toml", PERSON);
    let catalog = Catalog::load_dir(dir.path()).unwrap();
    let missing = catalog.missing_sources(dir.path());
    assert_eq!(missing.len(), 1);
    assert!(missing[0].message.contains("basis/persoon.parquet not found"));
}

#[test]
fn identifier_columns_must_say_what_they_identify() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    let with_seller = PERSON.replace(
        "  { name = \"inkomen\"",
        "  { name = \"verkoper_id\", type = \"Int64\", description = \"seller\" },\n  { name = \"inkomen\"",
    );
    write(dir.path(), "basis/persoon.toml", &with_seller);
    let problems = problems_of(dir.path()).join("\n");
    assert!(problems.contains("column verkoper_id looks like an identifier"), "{problems}");
    for declared in [
        with_seller
            .replace("units = { persoon = \"persoon_id\" }", "units = { persoon = [\"persoon_id\", \"verkoper_id\"] }"),
        with_seller.replace("\"verkoper_id\", type", "\"verkoper_id\", role = \"row-id\", type"),
        with_seller.replace("\"verkoper_id\", type", "\"verkoper_id\", role = \"reference\", type"),
    ] {
        write(dir.path(), "basis/persoon.toml", &declared);
        Catalog::load_dir(dir.path()).unwrap();
    }
}

#[test]
fn keys_are_columns_and_protected_keys_are_units() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warehouse.toml", WAREHOUSE);
    let keyed = |key: &str| PERSON.replace("units =", &format!("key = \"{key}\"\nunits ="));
    write(dir.path(), "basis/persoon.toml", &keyed("persoon_id"));
    let catalog = Catalog::load_dir(dir.path()).unwrap();
    assert_eq!(catalog.table("basis", "persoon").unwrap().key(), Some("persoon_id"));
    write(dir.path(), "basis/persoon.toml", &keyed("inkomen"));
    assert!(problems_of(dir.path()).join("\n").contains("must be one of its unit columns"));
    write(dir.path(), "basis/persoon.toml", &keyed("bsn"));
    assert!(problems_of(dir.path()).join("\n").contains("key bsn is not a column"));
}

#[test]
fn the_embedded_catalog_declares_every_identifier() {
    let catalog = Catalog::embedded().unwrap();
    let transactie = catalog.table("vastgoed", "transactie").unwrap();
    assert_eq!(transactie.unit_of("verkoper_id"), Some(EntityType::Persoon));
    assert!(transactie.is_identifying("transactie_id"));
    let inschrijving = catalog.table("vakantieparken", "inschrijving").unwrap();
    assert!(!inschrijving.is_identifying("park_id"));
    assert_eq!(catalog.table("regio", "buurt").unwrap().key(), Some("bu_code"));
}
