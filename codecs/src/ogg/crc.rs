//! The Ogg page checksum (RFC 3533 §6, libogg `framing.c`): CRC-32 with the generator
//! polynomial 0x04C11DB7, initial value 0, no bit reflection, no final XOR.
//!
//! This is not the IEEE CRC-32 of zip/PNG (which reflects its bits), so `crc32fast` cannot
//! compute it; the table below is built at compile time from the polynomial.

/// The Ogg CRC generator polynomial (RFC 3533 §6).
pub const POLYNOMIAL: u32 = 0x04C1_1DB7;

const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ POLYNOMIAL
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = build_table();

/// Continues a checksum over `data`.
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        let idx = ((crc >> 24) as u8 ^ b) as usize;
        crc = (crc << 8) ^ TABLE[idx];
    }
    crc
}

/// The checksum of a whole page whose checksum field (bytes 22..26) is treated as zero.
///
/// `page` must be at least 26 bytes long; shorter input gives the checksum of the bytes
/// there are (callers validate the length first).
pub fn page_checksum(page: &[u8]) -> u32 {
    match (page.get(..22), page.get(26..)) {
        (Some(head), Some(tail)) => update(update(update(0, head), &[0; 4]), tail),
        _ => update(0, page),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_polynomial_definition() {
        // The entry for 0x01 is the polynomial itself, for 0x80 it is the polynomial
        // shifted through seven further steps.
        assert_eq!(TABLE[0], 0);
        assert_eq!(TABLE[1], POLYNOMIAL);
        assert_eq!(TABLE[2], POLYNOMIAL << 1);
    }

    #[test]
    fn checksum_of_check_string_is_crc32_posix_without_final_xor() {
        // CRC-32/POSIX (poly 0x04C11DB7, init 0, unreflected) has check value 0x765E7680
        // for "123456789" after its final XOR with 0xFFFFFFFF; Ogg skips that XOR.
        assert_eq!(update(0, b"123456789"), 0x89A1_897F);
    }
}
