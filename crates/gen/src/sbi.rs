//! The SBI activity codes the warehouse uses, with each code's share of all establishments
//! (calibrated so that haarverzorging is ~32,000 and schoonheidsverzorging ~47,900 of ~2.3
//! million vestigingen, and care providers ~140,000) and the vulnerable branches marked.

pub struct Sbi {
    pub code: &'static str,
    pub omschrijving: &'static str,
    pub kwetsbaar: bool,
    /// Share of all vestigingen.
    pub share: f64,
}

const fn sbi(code: &'static str, omschrijving: &'static str, kwetsbaar: bool, per_million: f64) -> Sbi {
    Sbi { code, omschrijving, kwetsbaar, share: per_million / 1_000_000.0 }
}

/// Care activities whose establishments can be pgb care providers.
pub const CARE_CODES: &[&str] = &["8610", "8690", "8710", "8720", "8810", "8891", "8899"];

/// Shares per million vestigingen; they add up to one million.
pub const SBI: &[Sbi] = &[
    sbi("96021", "Haarverzorging", true, 13_913.0),
    sbi("96022", "Schoonheidsverzorging, pedicure en manicure", true, 20_826.0),
    sbi("9604", "Sauna's, solaria, baden e.d.", true, 1_500.0),
    sbi("56101", "Restaurants", true, 12_000.0),
    sbi("5630", "Cafés", true, 6_000.0),
    sbi("56102", "Fastfoodrestaurants, cafetaria's, ijssalons", true, 9_000.0),
    sbi("4511", "Handel in en reparatie van personenauto's en lichte bedrijfsauto's", true, 12_000.0),
    sbi("4777", "Winkels in uurwerken, juweliersartikelen en edelsmeedwerk", true, 2_000.0),
    sbi("4932", "Taxivervoer", true, 6_000.0),
    sbi("9200", "Loterijen en kansspelen", true, 400.0),
    sbi("6810", "Handel in eigen onroerend goed", true, 25_000.0),
    sbi("4520", "Onderhoud en reparatie van auto's (incl. autowasserijen)", true, 9_000.0),
    sbi("4711", "Supermarkten en dergelijke winkels", false, 3_500.0),
    sbi("4719", "Warenhuizen en andere winkels met een algemeen assortiment", false, 8_000.0),
    sbi("4771", "Winkels in kleding en mode-artikelen", false, 12_000.0),
    sbi("4791", "Detailhandel via internet", false, 25_000.0),
    sbi("4120", "Algemene burgerlijke en utiliteitsbouw", false, 30_000.0),
    sbi("4332", "Bouwtimmeren", false, 25_000.0),
    sbi("4391", "Dakdekken en bouwen van dakconstructies", false, 8_000.0),
    sbi("4941", "Goederenvervoer over de weg", false, 12_000.0),
    sbi("5210", "Opslag en distributie", false, 3_000.0),
    sbi("5229", "Expediteurs, cargadoors, bevrachters en andere logistieke dienstverlening", false, 4_000.0),
    sbi("5510", "Hotels", false, 4_000.0),
    sbi("5530", "Kampeerterreinen en vakantieparken", false, 2_500.0),
    sbi("6201", "Ontwikkelen, produceren en uitgeven van software", false, 25_000.0),
    sbi("6202", "Advisering op het gebied van informatietechnologie", false, 30_000.0),
    sbi("6420", "Financiële holdings", false, 30_000.0),
    sbi("6619", "Overige ondersteunende activiteiten voor financiële dienstverlening", false, 12_000.0),
    sbi("6831", "Bemiddeling bij handel, huur en verhuur van onroerend goed", false, 12_000.0),
    sbi("6910", "Rechtskundige dienstverlening", false, 15_000.0),
    sbi("6920", "Accountancy en belastingadvisering", false, 20_000.0),
    sbi("7022", "Organisatie-adviesbureaus", false, 60_000.0),
    sbi("7111", "Architecten", false, 12_000.0),
    sbi("7311", "Reclamebureaus", false, 15_000.0),
    sbi("7410", "Industrieel en grafisch ontwerp", false, 28_000.0),
    sbi("7420", "Fotografie", false, 15_000.0),
    sbi("8010", "Beveiliging", false, 5_000.0),
    sbi("8121", "Algemene reiniging van gebouwen", false, 20_000.0),
    sbi("8299", "Overige zakelijke dienstverlening", false, 30_000.0),
    sbi("8559", "Overig onderwijs", false, 25_000.0),
    sbi("8610", "Ziekenhuizen", false, 1_000.0),
    sbi("8690", "Overige gezondheidszorg", false, 30_000.0),
    sbi("8710", "Verpleeghuizen", false, 2_000.0),
    sbi(
        "8720",
        "Instellingen voor mensen met een verstandelijke beperking of psychiatrische aandoening",
        false,
        3_000.0,
    ),
    sbi("8810", "Maatschappelijke dienstverlening zonder overnachting voor ouderen en gehandicapten", false, 12_000.0),
    sbi("8891", "Kinderopvang", false, 8_000.0),
    sbi("8899", "Overige maatschappelijke dienstverlening zonder overnachting", false, 5_000.0),
    sbi("9001", "Beoefening van podiumkunst", false, 25_000.0),
    sbi("9003", "Schrijven en overige scheppende kunst", false, 20_000.0),
    sbi("9313", "Fitnesscentra", false, 6_000.0),
    sbi("9329", "Overige recreatie", false, 8_000.0),
    sbi("9499", "Overige ideële organisaties", false, 20_000.0),
    sbi("0111", "Teelt van granen, peulvruchten en oliehoudende zaden", false, 15_000.0),
    sbi("0141", "Melkveehouderij", false, 16_000.0),
    sbi("0113", "Teelt van groenten in de volle grond", false, 8_000.0),
    sbi("6491", "Financiële lease", false, 1_861.0),
    sbi("7490", "Overige specialistische zakelijke dienstverlening", false, 20_000.0),
    sbi("8531", "Algemeen voortgezet onderwijs", false, 2_000.0),
    sbi("8520", "Basisonderwijs", false, 7_000.0),
    sbi("4110", "Projectontwikkeling", false, 10_000.0),
    sbi("4321", "Elektrotechnische bouwinstallatie", false, 15_000.0),
    sbi("4322", "Loodgieters- en fitterswerk; installatie van sanitair en van verwarming", false, 14_000.0),
    sbi("4334", "Schilderen en glaszetten", false, 20_000.0),
    sbi("4631", "Groothandel in aardappelen, groenten en fruit", false, 3_000.0),
    sbi("4690", "Niet-gespecialiseerde groothandel", false, 20_000.0),
    sbi("4619", "Handelsbemiddeling in goederen in het algemeen", false, 20_000.0),
    sbi("4799", "Overige detailhandel niet via winkels of markten", false, 10_000.0),
    sbi("4782", "Markthandel in textiel, kleding en schoenen", false, 7_000.0),
    sbi("5621", "Eventcatering", false, 6_000.0),
    sbi("5914", "Vertoning van films", false, 500.0),
    sbi("6311", "Gegevensverwerking, webhosting en aanverwante activiteiten", false, 6_000.0),
    sbi("6612", "Commissionairs en makelaars in effecten", false, 3_000.0),
    sbi("6622", "Assurantietussenpersonen", false, 10_000.0),
    sbi("7112", "Ingenieurs en overig technisch ontwerp en advies", false, 32_000.0),
    sbi("7320", "Markt- en opinieonderzoek", false, 3_000.0),
    sbi("7500", "Veterinaire dienstverlening", false, 2_000.0),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_one() {
        let total: f64 = SBI.iter().map(|s| s.share).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn care_codes_are_listed() {
        for code in CARE_CODES {
            assert!(SBI.iter().any(|s| s.code == *code), "{code}");
        }
        let care: f64 = SBI.iter().filter(|s| CARE_CODES.contains(&s.code)).map(|s| s.share).sum();
        assert!((care * 2_300_000.0 - 140_000.0).abs() < 10_000.0, "{}", care * 2_300_000.0);
    }
}
