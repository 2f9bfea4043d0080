//! Typed (`Packed`) frames: exact sizes, round trips, byte order.

use super::Input;
use crate::packed::{Endian, Packed};

/// Checks `T` on `bytes`: `unpack` takes exactly `T::SIZE` bytes; what
/// `read_from` decodes, `write_to` encodes back to the same bytes in both
/// orders; little endian is big endian with each scalar's bytes reversed
/// (`scalars`: the scalar widths of `T`, in order).
fn check<T: Packed>(bytes: &[u8], scalars: &[usize]) {
    assert_eq!(scalars.iter().sum::<usize>(), T::SIZE, "the scalar layout");
    let unpacked = T::unpack(bytes);
    assert_eq!(unpacked.is_some(), bytes.len() == T::SIZE, "exact size");
    // Longer input: `read_from` looks at the first SIZE bytes only.
    let Some(bytes) = bytes.get(..T::SIZE) else {
        return;
    };
    let big = T::read_from(bytes, Endian::Big);
    assert_eq!(big.pack(), bytes, "big-endian round trip");
    if let Some(value) = unpacked {
        assert_eq!(value.pack(), bytes, "unpack, then pack");
    }
    let mut out = vec![0; T::SIZE];
    let little = T::read_from(bytes, Endian::Little);
    little.write_to(&mut out, Endian::Little);
    assert_eq!(out, bytes, "little-endian round trip");
    // The big-endian value written little-endian: each scalar reversed.
    big.write_to(&mut out, Endian::Little);
    let mut at = 0;
    for &width in scalars {
        let mut scalar = bytes[at..at + width].to_vec();
        scalar.reverse();
        assert_eq!(out[at..at + width], scalar[..], "scalar at {at}");
        at += width;
    }
    // A field of a `#[derive(Packed)]` struct decodes the same way.
    let field = crate::__private::PackedField::<T>::read(bytes, Endian::Big);
    assert_eq!(field.pack(), bytes, "as a struct field");
}

/// The fuzz target `packed`: a type (integers, floats, arrays, nested
/// tuples), then the bytes to decode.
pub fn packed(data: &[u8]) {
    let mut input = Input(data);
    let kind = input.u8();
    let bytes = input.rest();
    match kind % 16 {
        0 => check::<u8>(bytes, &[1]),
        1 => check::<i16>(bytes, &[2]),
        2 => check::<u32>(bytes, &[4]),
        3 => check::<i64>(bytes, &[8]),
        4 => check::<u128>(bytes, &[16]),
        5 => check::<i128>(bytes, &[16]),
        6 => check::<f32>(bytes, &[4]),
        7 => check::<f64>(bytes, &[8]),
        8 => check::<[u8; 5]>(bytes, &[1; 5]),
        9 => check::<[u16; 3]>(bytes, &[2; 3]),
        10 => check::<(u8, u16)>(bytes, &[1, 2]),
        11 => check::<(u32, [i16; 2], f64)>(bytes, &[4, 2, 2, 8]),
        12 => check::<((u8, i8), [(u16, u8); 2])>(bytes, &[1, 1, 2, 1, 2, 1]),
        13 => check::<[[u32; 2]; 2]>(bytes, &[4; 4]),
        14 => check::<(u8, u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, u128)>(
            bytes,
            &[1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 16],
        ),
        _ => check::<[u8; 0]>(bytes, &[]),
    }
}
