//! `zicht catalog check|list`.

use zicht_catalog::Protection;

use crate::Failure;
use crate::args::{CatalogAction, CatalogArgs};
use crate::data::{load_catalog, open_engine};

pub async fn run(args: CatalogArgs) -> Result<(), Failure> {
    match args.action {
        CatalogAction::Check { warehouse } => {
            let catalog = load_catalog(warehouse.catalog.as_deref())?;
            println!("catalog ok: {} tables in {} schemas", catalog.tables.len(), catalog.schemas().len());
            if warehouse.data.is_some() {
                // Opening checks every source exists and has the catalog's columns and types.
                open_engine(&warehouse).await?;
                println!("data ok: every table's source matches the catalog");
            }
            Ok(())
        }
        CatalogAction::List { catalog, columns } => {
            let catalog = load_catalog(catalog.as_deref())?;
            for table in &catalog.tables {
                let class = match &table.protection {
                    Protection::Public => "public".to_string(),
                    Protection::Protected { units } => {
                        let units: Vec<String> = units.iter().map(|(e, c)| format!("{e}={c}")).collect();
                        format!("protected ({})", units.join(", "))
                    }
                };
                println!("{:<34} {}", table.qualified_name(), class);
                if columns {
                    for column in &table.columns {
                        let unit = column.unit.as_deref().map(|u| format!(" [{u}]")).unwrap_or_default();
                        println!("    {:<28} {:<8} {}{}", column.name, column.data_type, column.description, unit);
                    }
                }
            }
            Ok(())
        }
    }
}
