//! Model and firmware profiles: what differs between the members of a module family (the
//! strings `ATI` and `AT+CGMR` print, the power-on lines, the `<ber>` of `AT+CSQ`). Data, not
//! code: one table per dialect in `fixtures/profiles/`, each row citing the log it comes
//! from. Adding a firmware is adding a row.

use std::fmt;

use super::DialectKind;

/// The Air780E family's table (`fixtures/profiles/air780e.tsv`).
pub const AIR780E_TABLE: &str = include_str!("../../../fixtures/profiles/air780e.tsv");
/// The L610's table (`fixtures/profiles/l610.tsv`).
pub const L610_TABLE: &str = include_str!("../../../fixtures/profiles/l610.tsv");

/// One module model at one firmware version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The `--model` name, e.g. `air780ep`.
    pub model: String,
    /// The version token, e.g. `V1007`.
    pub firmware: String,
    /// What `ATI` prints, one entry per line, the version filled in.
    pub ati: Vec<String>,
    /// `AT+CGMM`'s model name.
    pub cgmm: String,
    /// `AT+CGMI`'s manufacturer.
    pub cgmi: String,
    /// The `<ber>` of `AT+CSQ`.
    pub ber: u8,
    /// The power-on lines (templates: see [`BootLine`]).
    pub boot: Vec<BootLine>,
    /// What `AT+CFUN=1` prints: the radio part of the boot.
    pub radio_on: Vec<BootLine>,
    /// What `AT+RESET` and `AT+CFUN=1,1` print after their `OK`, before the boot lines.
    pub down: Vec<BootLine>,
    /// What a pulled SIM prints.
    pub sim_out: Vec<BootLine>,
    /// What a SIM put back prints (`{radio_on}` expanded).
    pub sim_in: Vec<BootLine>,
    /// The fields `AT+CGDCONT?` prints per context: 6 (`...,"<ip>",0,0`) or 4.
    pub cgdcont_fields: u8,
    /// Where the row comes from.
    pub source: String,
}

/// One line the module prints by itself, as a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootLine {
    /// Printed as is, without CR LF framing (the EC618 mask ROM's banner).
    Raw(Vec<u8>),
    /// A `\r\n<line>\r\n` line; `{YYYY}` `{YY}` `{MM}` `{DD}` `{hh}` `{mm}` `{ss}` are the
    /// module's clock.
    Line(String),
}

impl BootLine {
    fn parse(s: &str) -> BootLine {
        match s.strip_prefix("raw:") {
            // The tables write the banner's trailing `\n` as the logs print it: two characters.
            Some(raw) => BootLine::Raw(raw.as_bytes().to_vec()),
            None => BootLine::Line(s.to_string()),
        }
    }

    /// The line with the clock filled in.
    pub fn render(&self, now: &Civil) -> BootLine {
        match self {
            BootLine::Raw(b) => BootLine::Raw(b.clone()),
            BootLine::Line(l) => BootLine::Line(now.fill(l)),
        }
    }
}

/// A row that does not parse, or a model or firmware no table has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError(pub String);

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

/// The table's rows: (default?, profile with `{fw}` still in its strings).
fn rows(table: &str) -> Result<Vec<(bool, Profile)>, ProfileError> {
    let mut out = Vec::new();
    for (n, line) in table.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("model\t") || line.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        let bad = |why: &str| ProfileError(format!("profile table line {}: {why}", n + 1));
        if c.len() != 14 {
            return Err(bad(&format!("{} columns, not 14", c.len())));
        }
        let lines = |s: &str| {
            if s == "-" {
                return Vec::new();
            }
            s.split('|')
                .flat_map(|l| {
                    if l == "{radio_on}" {
                        c[8].split('|').map(BootLine::parse).collect::<Vec<_>>()
                    } else {
                        vec![BootLine::parse(l)]
                    }
                })
                .collect::<Vec<_>>()
        };
        out.push((
            c[2] == "yes",
            Profile {
                model: c[0].to_string(),
                firmware: c[1].to_string(),
                ati: c[3].split('|').map(str::to_string).collect(),
                cgmm: c[4].to_string(),
                cgmi: c[5].to_string(),
                ber: c[6].parse().map_err(|_| bad("ber is not a number"))?,
                boot: lines(c[7]),
                radio_on: lines(c[8]),
                down: lines(c[9]),
                sim_out: lines(c[10]),
                sim_in: lines(c[11]),
                cgdcont_fields: c[12].parse().map_err(|_| bad("cgdcont is not a number"))?,
                source: c[13].to_string(),
            },
        ));
    }
    Ok(out)
}

fn table(dialect: DialectKind) -> &'static str {
    match dialect {
        DialectKind::Air780e => AIR780E_TABLE,
        DialectKind::L610 => L610_TABLE,
    }
}

/// The models a dialect's table knows, for `--help` and errors.
pub fn models(dialect: DialectKind) -> Vec<String> {
    let mut m: Vec<String> = rows(table(dialect))
        .unwrap_or_default()
        .into_iter()
        .map(|(_, p)| p.model)
        .collect();
    m.dedup();
    m
}

/// The dialect whose table has `model`.
pub fn dialect_of(model: &str) -> Option<DialectKind> {
    [DialectKind::Air780e, DialectKind::L610]
        .into_iter()
        .find(|d| models(*d).iter().any(|m| m.eq_ignore_ascii_case(model)))
}

impl Profile {
    /// The profile for `model` (default: the dialect's first row) at `firmware` (default: the
    /// model's default row). A firmware no row has takes the model's default row, with that
    /// version in its strings. A bare number is a version: `1007` is `V1007` on the Air780E
    /// family, whose versions all start with `V`.
    pub fn lookup(
        dialect: DialectKind,
        model: Option<&str>,
        firmware: Option<&str>,
    ) -> Result<Profile, ProfileError> {
        let rows = rows(table(dialect))?;
        let model = match model {
            Some(m) => m.to_ascii_lowercase(),
            None => rows
                .first()
                .map(|(_, p)| p.model.clone())
                .ok_or_else(|| ProfileError("empty profile table".into()))?,
        };
        let of_model: Vec<&(bool, Profile)> =
            rows.iter().filter(|(_, p)| p.model == model).collect();
        if of_model.is_empty() {
            return Err(ProfileError(format!(
                "unknown --model `{model}` for the {dialect} dialect: use one of {}",
                models(dialect).join(", ")
            )));
        }
        let fw = firmware.map(|f| {
            let starts_v = of_model.iter().all(|(_, p)| p.firmware.starts_with('V'));
            if starts_v && f.bytes().all(|b| b.is_ascii_digit()) {
                format!("V{f}")
            } else {
                f.to_string()
            }
        });
        if let Some(f) = &fw {
            if f.is_empty() || f.len() > 64 || !f.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ProfileError(format!(
                    "--firmware `{f}`: a version is 1 to 64 printable characters, e.g. V1007"
                )));
            }
        }
        let row = match &fw {
            Some(f) => of_model
                .iter()
                .find(|(_, p)| p.firmware.eq_ignore_ascii_case(f))
                .or_else(|| of_model.iter().find(|(d, _)| *d)),
            None => of_model.iter().find(|(d, _)| *d),
        }
        .or(of_model.first())
        .map(|(_, p)| p.clone())
        .expect("rows of the model");
        let version = fw.unwrap_or_else(|| row.firmware.clone());
        Ok(Profile {
            ati: row
                .ati
                .iter()
                .map(|l| l.replace("{fw}", &version))
                .collect(),
            firmware: version,
            ..row
        })
    }

    /// The revision: `ATI`'s last line, what `AT+CGMR` quotes.
    pub fn revision(&self) -> &str {
        self.ati.last().map(String::as_str).unwrap_or_default()
    }
}

/// A calendar time (UTC), for the module's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    /// From seconds since 1970-01-01 UTC (H. Hinnant's `civil_from_days`).
    pub fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }

    /// Seconds since 1970-01-01 UTC (`days_from_civil`).
    pub fn to_unix(&self) -> i64 {
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// `2024/08/23,06:52:50`, `2024-08-23T06:52:50Z` or `24/08/23,06:52:50` (a `+zz` zone
    /// suffix is ignored: the clock is UTC).
    pub fn parse(s: &str) -> Option<Civil> {
        let s = s.trim().trim_matches('"').trim_end_matches('Z');
        let s = s.split('+').next()?;
        let (date, time) = s.split_once([',', 'T', ' '])?;
        let d: Vec<&str> = date.split(['/', '-']).collect();
        let t: Vec<&str> = time.split(':').collect();
        let [y, mo, da] = d.as_slice() else {
            return None;
        };
        let [h, mi, se] = t.as_slice() else {
            return None;
        };
        let mut year: i64 = y.parse().ok()?;
        if y.len() == 2 {
            year += 2000;
        }
        let c = Civil {
            year,
            month: mo.parse().ok()?,
            day: da.parse().ok()?,
            hour: h.parse().ok()?,
            minute: mi.parse().ok()?,
            second: se.parse().ok()?,
        };
        let valid = (1970..=2099).contains(&c.year)
            && (1..=12).contains(&c.month)
            && (1..=31).contains(&c.day)
            && c.hour < 24
            && c.minute < 60
            && c.second < 60
            && Civil::from_unix(c.to_unix()) == c;
        valid.then_some(c)
    }

    /// Fills `{YYYY}` `{YY}` `{MM}` `{DD}` `{hh}` `{mm}` `{ss}` in `template`.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{YYYY}", &format!("{:04}", self.year))
            .replace("{YY}", &format!("{:02}", self.year.rem_euclid(100)))
            .replace("{MM}", &format!("{:02}", self.month))
            .replace("{DD}", &format!("{:02}", self.day))
            .replace("{hh}", &format!("{:02}", self.hour))
            .replace("{mm}", &format!("{:02}", self.minute))
            .replace("{ss}", &format!("{:02}", self.second))
    }
}

/// The module's real-time clock: set at power-on from `--time` (or the host's clock), then
/// running with tokio's clock (so paused-time tests see it advance exactly).
#[derive(Debug, Clone)]
pub struct Clock {
    base: i64,
    at: tokio::time::Instant,
    /// The zone `AT+CCLK=` last set (`+32`: quarter hours), printed back by `AT+CCLK?`.
    pub zone: String,
}

impl Clock {
    /// A clock showing `start` (seconds since the epoch, UTC) now; `None`: the host's time.
    pub fn new(start: Option<i64>) -> Clock {
        let base = start.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
        Clock {
            base,
            at: tokio::time::Instant::now(),
            zone: "+00".into(),
        }
    }

    /// Seconds since the epoch, UTC.
    pub fn unix(&self) -> i64 {
        self.base + self.at.elapsed().as_secs() as i64
    }

    pub fn now(&self) -> Civil {
        Civil::from_unix(self.unix())
    }

    /// `AT+CCLK=` sets it.
    pub fn set(&mut self, c: Civil) {
        self.base = c.to_unix();
        self.at = tokio::time::Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_and_every_model_has_a_default() {
        for d in [DialectKind::Air780e, DialectKind::L610] {
            let rows = rows(table(d)).unwrap();
            assert!(!rows.is_empty());
            for m in models(d) {
                let defaults = rows.iter().filter(|(x, p)| *x && p.model == m).count();
                assert_eq!(defaults, 1, "{m}: one default row");
                let p = Profile::lookup(d, Some(&m), None).unwrap();
                assert!(!p.source.is_empty() && !p.boot.is_empty(), "{m}");
            }
        }
    }

    #[test]
    fn defaults_are_what_they_were() {
        let p = Profile::lookup(DialectKind::Air780e, None, None).unwrap();
        assert_eq!(p.model, "air780e");
        assert_eq!(p.ati, ["AirM2M_780E_V1169_LTE_AT"]);
        assert_eq!(p.ber, 0);
        assert_eq!(
            p.sim_in.len(),
            5,
            "{{radio_on}} is expanded: {:?}",
            p.sim_in
        );
        let l = Profile::lookup(DialectKind::L610, None, None).unwrap();
        assert_eq!(l.model, "l610");
        assert_eq!(
            l.boot,
            [
                BootLine::Line("AT command ready".into()),
                BootLine::Line("+SIM READY".into())
            ]
        );
    }

    #[test]
    fn firmware_fills_the_strings() {
        let p = Profile::lookup(DialectKind::Air780e, Some("air780ep"), Some("V1007")).unwrap();
        assert_eq!(p.revision(), "AirM2M_780EP_V1007_LTE_AT");
        // A bare number is a version; an unknown one takes the default row's lines.
        let p = Profile::lookup(DialectKind::Air780e, Some("AIR780EP"), Some("1234")).unwrap();
        assert_eq!(p.revision(), "AirM2M_780EP_V1234_LTE_AT");
        assert!(!matches!(p.boot[0], BootLine::Raw(_)));
        // V1010's log shows the mask ROM banner.
        let p = Profile::lookup(DialectKind::Air780e, Some("air780ep"), Some("V1010")).unwrap();
        assert!(matches!(p.boot[0], BootLine::Raw(_)));
        let e = Profile::lookup(DialectKind::Air780e, Some("air999"), None).unwrap_err();
        assert!(e.0.contains("air780epv") && e.0.contains("--model"), "{e}");
        assert!(Profile::lookup(DialectKind::Air780e, None, Some("a b")).is_err());
        assert_eq!(dialect_of("L610"), Some(DialectKind::L610));
        assert_eq!(dialect_of("air724ug"), Some(DialectKind::Air780e));
    }

    #[test]
    fn civil_time_round_trips() {
        let c = Civil::parse("2024/08/23,06:52:50").unwrap();
        assert_eq!(c.to_unix(), 1_724_395_970);
        assert_eq!(Civil::from_unix(1_724_395_970), c);
        assert_eq!(Civil::parse("2024-08-23T06:52:50Z"), Some(c));
        assert_eq!(Civil::parse("\"24/08/23,06:52:50+32\""), Some(c));
        assert_eq!(
            c.fill("+NITZ: {YYYY}/{MM}/{DD},{hh}:{mm}:{ss}+0,0 {YY}"),
            "+NITZ: 2024/08/23,06:52:50+0,0 24"
        );
        for bad in [
            "2024/02/30,00:00:00",
            "2024/08/23",
            "x",
            "2024/13/01,00:00:00",
        ] {
            assert_eq!(Civil::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Civil::from_unix(0),
            Civil {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_runs() {
        let c = Clock::new(Some(1_724_395_970));
        tokio::time::sleep(std::time::Duration::from_secs(61)).await;
        assert_eq!(c.now().fill("{hh}:{mm}:{ss}"), "06:53:51");
    }
}
