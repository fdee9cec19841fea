//! The regional patterns the generator plants: the real ones CBS reported, and one or two per
//! theme of our own, so tests can check that the deviation scores find them. Written beside the
//! data as ground truth, outside anything the engine serves.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct HotSpot {
    pub theme: &'static str,
    pub table: &'static str,
    pub indicator: &'static str,
    pub level: &'static str,
    pub code: &'static str,
    pub naam: String,
    /// How many times the national rate the planted rate is.
    pub factor: f64,
    /// Whether CBS reported this pattern for the real data.
    pub real: bool,
}

const fn spot(
    theme: &'static str,
    table: &'static str,
    indicator: &'static str,
    code: &'static str,
    factor: f64,
    real: bool,
) -> (&'static str, &'static str, &'static str, &'static str, f64, bool) {
    (theme, table, indicator, code, factor, real)
}

/// (theme, table, indicator, gemeente code, factor, real).
pub const PLANTED: &[(&str, &str, &str, &str, f64, bool)] = &[
    spot("vastgoed", "vastgoed.transactie", "onverklaarbare woningaankopen per 1,000 aankopen", "GM0772", 3.0, false),
    spot("drugs", "drugs.hennepruiming", "hennepruimingen per 1,000 woningen", "GM0917", 10.0, true),
    spot("drugs", "drugs.verdachte", "Opiumwet-verdachten per 1,000 inwoners", "GM0796", 2.5, false),
    spot(
        "vakantieparken",
        "vakantieparken.inschrijving",
        "ingeschrevenen op een vakantiepark per 1,000 inwoners",
        "GM0303",
        8.0,
        true,
    ),
    spot("zorgfraude", "zorgfraude.zorgaanbieder", "aandeel pgb-zorgaanbieders met veroordeling", "GM0518", 2.4, true),
    spot("zorgfraude", "zorgfraude.zorgaanbieder", "aandeel pgb-zorgaanbieders met veroordeling", "GM0384", 2.35, true),
    spot("branches", "basis.vestiging", "vestigingen in kwetsbare branches per 1,000 inwoners", "GM0202", 2.5, false),
    spot("jongeren", "jongeren.kenmerk", "jongeren met jeugdreclassering per 1,000 jongeren", "GM0599", 2.0, false),
    spot(
        "transacties",
        "transacties.melding",
        "ongebruikelijke-transactiemeldingen per 1,000 inwoners",
        "GM0363",
        2.5,
        false,
    ),
    spot(
        "logistiek",
        "logistiek.knooppunt_werknemer",
        "werknemers op logistieke knooppunten per 1,000 inwoners",
        "GM0613",
        3.0,
        false,
    ),
    spot(
        "digitaal",
        "digitaal.aangifte",
        "aangiften van online criminaliteit per 1,000 inwoners",
        "GM0153",
        2.5,
        false,
    ),
    spot(
        "schulden",
        "schulden.registratie",
        "personen met problematische schulden per 1,000 inwoners",
        "GM0014",
        2.0,
        false,
    ),
];

/// The planted factor for `table` in the gemeente with `code`, or 1.
pub fn factor(table: &str, code: &str) -> f64 {
    PLANTED.iter().find(|s| s.1 == table && s.3 == code).map_or(1.0, |s| s.4)
}
