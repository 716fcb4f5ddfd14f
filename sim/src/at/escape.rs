//! Payload escapes of the Luat MQTT commands.
//!
//! Seed 000 FAQ 12 and seed 003 ("上报属性"): a `"` inside a payload is written `\22`, CR `\0D`,
//! LF `\0A`, a backslash `\5C`, and a comma `\2C`. We decode any `\XX` with two hex digits; a
//! backslash not followed by two hex digits is kept as it is (see fixtures/DIVERGENCES.md).

pub fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'\\' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), input.get(i + 2).and_then(|&b| hex(b)))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// The inverse of [`decode`] for the bytes a host must escape to fit them in a quoted AT
/// parameter: `"`, `,`, `\`, CR, LF and other control bytes.
pub fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if b == b'"' || b == b',' || b == b'\\' || b < 0x20 || b == 0x7f {
            out.extend_from_slice(format!("\\{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_escapes() {
        assert_eq!(
            decode(br"{\22temperature\22:31.6\2C\22humidity\22:65}"),
            br#"{"temperature":31.6,"humidity":65}"#
        );
        assert_eq!(decode(br"a\0D\0Ab\5C"), b"a\r\nb\\");
        assert_eq!(decode(br"\00\ff"), b"\x00\xff");
    }

    #[test]
    fn incomplete_or_non_hex_escapes_stay_literal() {
        assert_eq!(decode(br"\zz\2"), br"\zz\2");
        assert_eq!(decode(br"end\"), br"end\");
    }

    #[test]
    fn encode_then_decode_is_identity_for_all_bytes() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)), all);
    }
}
