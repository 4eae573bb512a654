//! Validators for what people type into the renewal form. Each returns the normalised value or a
//! reason code that the UI translates (see [`Invalid`]).

/// Why a value was refused; the UI maps each to a sentence in the user's language.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error,
)]
#[serde(rename_all = "snake_case")]
pub enum Invalid {
    #[error("required")]
    Required,
    #[error("wrong format")]
    Format,
    #[error("check digit does not match")]
    Checksum,
    #[error("date of birth is not a real date")]
    BirthDate,
    #[error("unknown region code")]
    Region,
    #[error("too long")]
    TooLong,
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// Resident identity card number (GB 11643-1999): 17 digits and a MOD 11-2 check character,
/// a plausible region code and a real birth date not after `today` (yyyymmdd).
pub fn resident_id(input: &str, today: u32) -> Result<String, Invalid> {
    let s = input.trim().to_ascii_uppercase();
    if s.is_empty() {
        return Err(Invalid::Required);
    }
    let b = s.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X')
    {
        return Err(Invalid::Format);
    }
    // Province codes run 11–82 (GB/T 2260); 00 or 99 are never regions.
    let province = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    if !(11..=82).contains(&province) {
        return Err(Invalid::Region);
    }
    let digits = |r: core::ops::Range<usize>| {
        b[r].iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (y, m, d) = (digits(6..10), digits(10..12), digits(12..14));
    if y < 1900
        || !(1..=12).contains(&m)
        || d == 0
        || d > days_in_month(y, m)
        || y * 10000 + m * 100 + d > today
    {
        return Err(Invalid::BirthDate);
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    if ID_CHECK[(sum % 11) as usize] != b[17] {
        return Err(Invalid::Checksum);
    }
    Ok(s)
}

/// Days in month `m` of year `y` (Gregorian).
pub fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Unified social credit code (GB 32100-2015), used as the taxpayer identification number.
pub fn social_credit_code(input: &str) -> Result<String, Invalid> {
    let s = input.trim().to_ascii_uppercase();
    if s.is_empty() {
        return Err(Invalid::Required);
    }
    let b = s.as_bytes();
    if b.len() != 18 {
        return Err(Invalid::Format);
    }
    let mut values = [0u32; 18];
    for (v, c) in values.iter_mut().zip(b) {
        *v = USCC_CHARS
            .iter()
            .position(|x| x == c)
            .ok_or(Invalid::Format)? as u32;
    }
    let sum: u32 = values[..17]
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(v, w)| v * w)
        .sum();
    if (31 - sum % 31) % 31 != values[17] {
        return Err(Invalid::Checksum);
    }
    Ok(s)
}

/// Mainland mobile number: optional +86 / 0086 prefix, then 1[3-9] and nine digits.
pub fn mobile(input: &str) -> Result<String, Invalid> {
    let s: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if s.is_empty() {
        return Err(Invalid::Required);
    }
    let s = s
        .strip_prefix("+86")
        .or_else(|| s.strip_prefix("0086"))
        .unwrap_or(&s);
    let b = s.as_bytes();
    if b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
    {
        Ok(s.to_string())
    } else {
        Err(Invalid::Format)
    }
}

/// An e-mail address a notice can reach: one @, a dot in the domain, no spaces, ≤ 254 chars.
pub fn email(input: &str) -> Result<String, Invalid> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Invalid::Required);
    }
    if s.len() > 254 {
        return Err(Invalid::TooLong);
    }
    let (local, domain) = s.split_once('@').ok_or(Invalid::Format)?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::Format)
    }
}

/// A required free-text field (names, addresses, invoice titles): trimmed, bounded.
pub fn text(input: &str, max_chars: usize) -> Result<String, Invalid> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Invalid::Required);
    }
    if s.chars().count() > max_chars {
        return Err(Invalid::TooLong);
    }
    if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Invalid::Format);
    }
    Ok(s.to_string())
}

/// Characters that reorder or hide text when shown (Unicode bidi embeddings, overrides,
/// isolates and marks; the byte-order mark): in a name or an invoice title they make what a
/// reviewer reads differ from what is stored (CVE-2021-42574 style).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// Masks an ID number or phone for logs and lists: keeps the first 3 and last 4 characters.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..3].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 7));
    out.extend(&chars[chars.len() - 4..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TODAY: u32 = 20261124;

    #[test]
    fn text_refuses_controls_and_bidi_overrides() {
        assert_eq!(text(" 深圳市某公司 ", 10), Ok("深圳市某公司".into()));
        for bad in [
            "a\u{202E}gpj.exe",
            "x\u{2066}y",
            "\u{200F}名",
            "a\u{0007}b",
            "\u{FEFF}x",
        ] {
            assert_eq!(text(bad, 100), Err(Invalid::Format), "{bad:?}");
        }
    }

    #[test]
    fn resident_ids() {
        assert_eq!(
            resident_id("11010519491231002X", TODAY).as_deref(),
            Ok("11010519491231002X")
        );
        assert_eq!(
            resident_id(" 11010519491231002x ", TODAY).as_deref(),
            Ok("11010519491231002X")
        );
        assert_eq!(
            resident_id("110105194912310021", TODAY),
            Err(Invalid::Checksum)
        );
        assert_eq!(
            resident_id("11010519491331002X", TODAY),
            Err(Invalid::BirthDate)
        );
        assert_eq!(
            resident_id("110105202912310027", TODAY),
            Err(Invalid::BirthDate),
            "born in the future"
        );
        assert_eq!(
            resident_id("00010519491231002X", TODAY),
            Err(Invalid::Region)
        );
        assert_eq!(resident_id("1101051949123100", TODAY), Err(Invalid::Format));
        assert_eq!(resident_id("", TODAY), Err(Invalid::Required));
    }

    #[test]
    fn leap_days() {
        // 2000-02-29 is real, 1900-02-29 is not; check digits computed for each.
        assert_eq!(resident_id("440305200002290010", TODAY).err(), None);
        assert_eq!(
            resident_id("440305190002290014", TODAY),
            Err(Invalid::BirthDate)
        );
    }

    #[test]
    fn social_credit_codes() {
        assert_eq!(
            social_credit_code("91350100M000100Y43").as_deref(),
            Ok("91350100M000100Y43")
        );
        assert_eq!(
            social_credit_code("91350100m000100y43").as_deref(),
            Ok("91350100M000100Y43")
        );
        assert_eq!(
            social_credit_code("91350100M000100Y44"),
            Err(Invalid::Checksum)
        );
        assert_eq!(
            social_credit_code("91350100M000100I43"),
            Err(Invalid::Format),
            "I is not in the alphabet"
        );
        assert_eq!(social_credit_code("9135"), Err(Invalid::Format));
    }

    #[test]
    fn mobiles() {
        assert_eq!(mobile("+86 138-0013-8000").as_deref(), Ok("13800138000"));
        assert_eq!(mobile("008619912345678").as_deref(), Ok("19912345678"));
        assert_eq!(mobile("12800138000"), Err(Invalid::Format));
        assert_eq!(mobile("1380013800"), Err(Invalid::Format));
    }

    #[test]
    fn emails() {
        assert!(email("ops@supplier.com.cn").is_ok());
        for bad in [
            "ops", "ops@", "@x.cn", "a@b", "a b@c.cn", "a@b..cn", "a@@b.cn",
        ] {
            assert_eq!(email(bad), Err(Invalid::Format), "{bad}");
        }
    }

    #[test]
    fn masking() {
        assert_eq!(mask("11010519491231002X"), "110***********002X");
        assert_eq!(mask("13800138000"), "138****8000");
        assert_eq!(mask("1234"), "****");
    }

    proptest! {
        #[test]
        fn validators_never_panic(s in ".{0,40}") {
            let _ = resident_id(&s, TODAY);
            let _ = social_credit_code(&s);
            let _ = mobile(&s);
            let _ = email(&s);
            let _ = text(&s, 10);
            let _ = mask(&s);
        }

        #[test]
        fn every_valid_id_body_has_exactly_one_check_char(body in "[1-6][1-5]0105(19[5-9][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}") {
            let ok = "0123456789X".chars().filter(|c| resident_id(&format!("{body}{c}"), TODAY).is_ok()).count();
            prop_assert_eq!(ok, 1);
        }
    }
}
