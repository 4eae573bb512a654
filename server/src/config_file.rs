//! The configuration file (TOML): one key per command-line option, named as the option without
//! its dashes (`listen = "0.0.0.0:8080"`, `cors-origin = ["isolated-app://…"]`,
//! `auto-approve = true`). The binary turns each into the option's environment variable when
//! that is not set, so a flag beats the environment, which beats the file, which beats the
//! default. Secrets (passwords, PINs) are never read from it: they come from the environment.

use crate::fault::Error;
/// The file's options as (key, value) text; arrays are joined with `,` as the options'
/// environment variables take them. Anything that is not a flat key = value is refused.
pub fn read(path: &std::path::Path) -> Result<Vec<(String, String)>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

pub fn parse(text: &str) -> Result<Vec<(String, String)>, Error> {
    let table: toml::Table = toml::from_str(text).map_err(Error::config)?;
    let mut out = vec![];
    for (key, value) in table {
        let text = match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|v| scalar(&key, v))
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            v => scalar(&key, &v)?,
        };
        out.push((key, text));
    }
    Ok(out)
}

fn scalar(key: &str, v: &toml::Value) -> Result<String, Error> {
    match v {
        toml::Value::String(s) if s.contains(',') && key != "database" => Err(Error::Config(
            format!("{key}: a value with a comma (lists are TOML arrays)"),
        )),
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(Error::Config(format!(
            "{key}: not a string, number, true/false or a list of them"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn flat_keys_become_option_values() {
        let got = super::parse(
            "listen = \"0.0.0.0:8080\"\nauto-approve = true\nrate-limit = 30\ncors-origin = [\"isolated-app://a\", \"isolated-app://b\"]\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                ("auto-approve".to_string(), "true".to_string()),
                (
                    "cors-origin".into(),
                    "isolated-app://a,isolated-app://b".into()
                ),
                ("listen".into(), "0.0.0.0:8080".into()),
                ("rate-limit".into(), "30".into()),
            ]
        );
        assert!(
            super::parse("[serve]\nlisten = \"x\"").is_err(),
            "no tables"
        );
        assert!(super::parse("x = 1.5").is_err());
        assert!(
            super::parse("cors-origin = \"a,b\"").is_err(),
            "a list is an array"
        );
        assert!(super::parse("listen = ").is_err());
    }
}
