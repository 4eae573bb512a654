//! The tokens Chinese CAs (NETCA first) hand out, by USB vendor:product, from NETCA's own device
//! installers (research notes: `../shared/research/tokens.md`). None of them is a PIV card: a page
//! that finds one names it and says what to do, instead of failing on the PIV application (the
//! page's use of the table is on branch `wip/issue17-model-names`, waiting for room in the first
//! page's 200 KB).

/// How far this app can drive a token family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Feitian ePass2003: a public command set (OpenSC's driver), not driven here yet.
    Epass2003,
    /// A closed command set (the SM2 models among them): only the maker's middleware drives it.
    Closed,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Model {
    /// The maker and model, as printed on the token.
    pub name: &'static str,
    pub vendor: u16,
    pub products: &'static [u16],
    pub family: Family,
}

/// NETCA's models and the other CAs' tokens its installers list.
pub const MODELS: &[Model] = &[
    Model {
        name: "Feitian ePass2003",
        vendor: 0x096E,
        products: &[0x0807, 0x080A],
        family: Family::Epass2003,
    },
    Model {
        name: "Feitian ePass3003",
        vendor: 0x096E,
        products: &[0x0702],
        family: Family::Closed,
    },
    Model {
        name: "Feitian FT3000GM",
        vendor: 0x096E,
        products: &[0x0314, 0x0316, 0x031F, 0x0317, 0x031A, 0x0322],
        family: Family::Closed,
    },
    Model {
        name: "Feitian SM2",
        vendor: 0x096E,
        products: &[0x0303],
        family: Family::Closed,
    },
    Model {
        name: "Feitian SKF (GDCA, SZCA)",
        vendor: 0x096E,
        products: &[0x0309, 0x0312, 0x0319],
        family: Family::Closed,
    },
    Model {
        name: "Longmai GM3000",
        vendor: 0x055C,
        products: &[0xE618, 0xDB08, 0xE508, 0xE425, 0xE623],
        family: Family::Closed,
    },
    Model {
        name: "Haitai HaiKey",
        vendor: 0x5448,
        products: &[0x0001, 0x0003, 0x0004, 0x0103, 0x0203],
        family: Family::Closed,
    },
    Model {
        name: "Excelsecu",
        vendor: 0x1EA8,
        products: &[0xC001, 0xC01B, 0xC02C, 0xC11B, 0xC140],
        family: Family::Closed,
    },
    Model {
        name: "Watchdata",
        vendor: 0x163C,
        products: &[0x0401, 0x0406, 0x0407, 0x0415, 0x0417, 0x0418, 0x0423],
        family: Family::Closed,
    },
    Model {
        name: "Mingwah",
        vendor: 0x04B4,
        products: &[0x1234],
        family: Family::Closed,
    },
    Model {
        name: "Mingwah",
        vendor: 0x1483,
        products: &[0x1200],
        family: Family::Closed,
    },
    Model {
        name: "WinTrust",
        vendor: 0x3A59,
        products: &[0x4458],
        family: Family::Closed,
    },
];

/// The model a USB vendor:product belongs to, if it is one of the table's.
pub fn identify(vendor: u16, product: u16) -> Option<&'static Model> {
    MODELS
        .iter()
        .find(|m| m.vendor == vendor && m.products.contains(&product))
}

/// A model by its name (the demo's stand-ins: `?token=gm3000` and the like).
pub fn named(short: &str) -> Option<&'static Model> {
    let short = short.to_ascii_lowercase();
    MODELS.iter().find(|m| {
        m.name
            .to_ascii_lowercase()
            .replace(' ', "")
            .ends_with(&short)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netca_models_are_found_by_vendor_and_product() {
        let gm = identify(0x055C, 0xE618).expect("GM3000");
        assert_eq!((gm.name, gm.family), ("Longmai GM3000", Family::Closed));
        let ep = identify(0x096E, 0x0807).expect("ePass2003");
        assert_eq!(ep.family, Family::Epass2003);
        // The same vendor, another product: another model, or none.
        assert_eq!(identify(0x096E, 0x0317).unwrap().name, "Feitian FT3000GM");
        assert_eq!(
            identify(0x096E, 0x0850),
            None,
            "a Feitian FIDO key is no CA token"
        );
        // YubiKey (PIV) and the virtual token's id are not in the table.
        assert_eq!(identify(0x1050, 0x0407), None);
        assert_eq!(identify(0x1209, 0x0001), None);
    }

    #[test]
    fn no_vendor_product_pair_names_two_models() {
        for (i, a) in MODELS.iter().enumerate() {
            for b in &MODELS[i + 1..] {
                let shared =
                    a.vendor == b.vendor && a.products.iter().any(|p| b.products.contains(p));
                assert!(!shared, "{} and {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn models_are_named_for_the_demo() {
        assert_eq!(named("gm3000").unwrap().vendor, 0x055C);
        assert_eq!(named("ePass2003").unwrap().products[0], 0x0807);
        assert_eq!(named("nothing"), None);
    }
}
