//! Which member of a module family the in-process simulator is (`--model`, `--firmware`),
//! and when a module's power-on lines are over.

use std::time::Duration;

use modem_sim::dialect::DialectKind;
use modem_sim::modem::{BootLine, Identity, Profile};

/// How long a module on a port may stay silent before the harness takes it as already on
/// (its power-on lines went to an earlier reader, or it was powered before the port opened).
pub const BOOT_QUIET: Duration = Duration::from_secs(1);

/// `--model`, `--firmware` and the clock of the simulated module; `None`: the dialect's
/// default (`fixtures/profiles/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimModel {
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// The module's clock at power-on (seconds since the epoch, UTC).
    pub time: Option<i64>,
}

impl SimModel {
    /// The profile for `dialect`, or a message naming the flag that is wrong.
    pub fn profile(&self, dialect: DialectKind) -> Result<Profile, String> {
        Profile::lookup(dialect, self.model.as_deref(), self.firmware.as_deref())
            .map_err(|e| e.to_string())
    }

    /// The identity of a simulator of this model.
    pub fn identity(&self, dialect: DialectKind) -> Result<Identity, String> {
        Ok(Identity {
            profile: self.profile(dialect)?,
            time: self.time,
            ..Identity::for_dialect(dialect)
        })
    }

    /// The start of the module's last power-on line (what [`crate::device::Device::wait_boot`]
    /// waits for): `+NITZ:` on the Air780E family, `+SIM READY` on the L610.
    pub fn boot_end(&self, dialect: DialectKind) -> Result<String, String> {
        let p = self.profile(dialect)?;
        match p.boot.last() {
            Some(BootLine::Line(l)) => Ok(l.split('{').next().unwrap_or(l).to_string()),
            _ => Err(format!(
                "the {} profile has no power-on line to wait for",
                p.model
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_ends_with_the_profile_s_last_line() {
        let m = SimModel::default();
        assert_eq!(m.boot_end(DialectKind::Air780e).unwrap(), "+NITZ: ");
        assert_eq!(m.boot_end(DialectKind::L610).unwrap(), "+SIM READY");
        let ep = SimModel {
            model: Some("air780ep".into()),
            firmware: Some("V1007".into()),
            time: None,
        };
        assert_eq!(
            ep.profile(DialectKind::Air780e).unwrap().revision(),
            "AirM2M_780EP_V1007_LTE_AT"
        );
        let bad = SimModel {
            model: Some("nope".into()),
            ..SimModel::default()
        };
        assert!(bad
            .profile(DialectKind::Air780e)
            .unwrap_err()
            .contains("--model"));
    }
}
