//! Commands every module takes the V.250 way.

use crate::at::Form;

use super::Out;

/// `AT` -> `OK` (seed 000 section 6.1 and seed 002 section 3.3: the host sends `AT` until the
/// module answers `OK`).
pub fn at(form: &Form, out: &mut Out) {
    match form {
        Form::Exec => out.ok(),
        _ => out.error(),
    }
}

/// `ATE0`/`ATE1` (V.250 section 6.2.4; seed 002 section 3.3: `ATE0` is itself still echoed,
/// then `OK`, "ATE0 掉电不保存、立即生效"). `ATE` alone is `ATE0`. The echo happens as the
/// bytes arrive, so the answer to `ATE0` is still echoed.
pub fn echo(form: &Form, out: &mut Out) {
    match form {
        Form::Exec => {
            out.set_echo(false);
            out.ok()
        }
        Form::Set(d) if d == b"0" || d == b"1" => {
            out.set_echo(d == b"1");
            out.ok()
        }
        _ => out.error(),
    }
}
