//! Typed fixed-size frames: the Rust form of Pants' `struct.Struct` delimiter.
//!
//! A value is [`Packed`] when it has a fixed size on the wire: integers,
//! floats, arrays of packed values (`[u8; 4]`), tuples of them, and structs
//! with `#[derive(Packed)]`. An `#[on_read]` handler whose frame argument has
//! such a type reads exactly [`Packed::SIZE`] bytes and gets the decoded
//! value; [`Stream::write_packed`](crate::Stream::write_packed) is the
//! inverse.
//!
//! Integers and floats use the byte order they are given: network order (big
//! endian) for a handler argument or `write_packed`, or the order a derived
//! struct declares with `#[packed(endian = "little")]`. Tuples and arrays pass
//! the order on to their elements; a nested derived struct keeps its own.
//!
//! | Python `struct` | Rust |
//! |---|---|
//! | `Struct("!2H")` | `(u16, u16)` |
//! | `Struct("!BxI")` | `(u8, [u8; 1], u32)` |
//! | `Struct("<HH")` | `#[derive(Packed)] #[packed(endian = "little")] struct P { a: u16, b: u16 }` |
//!
//! ```
//! use pants::{Endian, Packed};
//!
//! #[derive(Packed, Debug, PartialEq)]
//! struct Header {
//!     kind: u8,
//!     length: u32,
//!     tag: [u8; 2],
//! }
//!
//! assert_eq!(Header::SIZE, 7);
//! let h = Header::unpack(&[1, 0, 0, 1, 0, b'o', b'k']).unwrap();
//! assert_eq!(h, Header { kind: 1, length: 256, tag: *b"ok" });
//! assert_eq!(h.pack(), [1, 0, 0, 1, 0, b'o', b'k']);
//! assert_eq!((42u16, 81u16).pack(), [0, 42, 0, 81]);
//! assert_eq!(<(u16, u16)>::read_from(&[42, 0, 81, 0], Endian::Little), (42, 81));
//! ```

/// The byte order of integers and floats in a packed value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Most significant byte first: network order, Python's `!`.
    #[default]
    Big,
    /// Least significant byte first: Python's `<`.
    Little,
}

/// A value with a fixed size on the wire: a typed frame.
///
/// Implemented for integers, `f32`/`f64`, arrays and tuples (up to 12) of
/// packed values, and by `#[derive(Packed)]` for structs whose fields are
/// packed. Decoding cannot fail: every byte pattern is a value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a packed (fixed-size) frame type",
    label = "not a typed frame",
    note = "a typed frame is a fixed-size integer (`u8` to `u128`, `i8` to `i128`; not `usize` or `isize`, whose size depends on the platform), a float, an array such as `[u8; 4]`, a tuple of those, or a struct with `#[derive(pants::Packed)]`",
    note = "for the raw bytes of a frame, take `frame: &[u8]`"
)]
pub trait Packed: Sized {
    /// Bytes on the wire.
    const SIZE: usize;

    /// Decodes a value from the first [`SIZE`](Self::SIZE) bytes of `bytes`.
    ///
    /// `order` applies to integers and floats that have no order of their
    /// own (a derived struct declares its own).
    ///
    /// # Panics
    ///
    /// If `bytes` is shorter than `SIZE`; the engine always passes a full frame.
    fn read_from(bytes: &[u8], order: Endian) -> Self;

    /// Encodes the value into the first [`SIZE`](Self::SIZE) bytes of `out`.
    ///
    /// # Panics
    ///
    /// If `out` is shorter than `SIZE`.
    fn write_to(&self, out: &mut [u8], order: Endian);

    /// Decodes a value in network order; `None` unless `bytes` is exactly `SIZE` long.
    fn unpack(bytes: &[u8]) -> Option<Self> {
        (bytes.len() == Self::SIZE).then(|| Self::read_from(bytes, Endian::Big))
    }

    /// Encodes the value in network order.
    fn pack(&self) -> Vec<u8> {
        let mut out = vec![0; Self::SIZE];
        self.write_to(&mut out, Endian::Big);
        out
    }
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Packed for $t {
            const SIZE: usize = size_of::<$t>();

            #[inline]
            fn read_from(bytes: &[u8], order: Endian) -> Self {
                let mut raw = [0; size_of::<$t>()];
                raw.copy_from_slice(&bytes[..size_of::<$t>()]);
                match order {
                    Endian::Big => <$t>::from_be_bytes(raw),
                    Endian::Little => <$t>::from_le_bytes(raw),
                }
            }

            #[inline]
            fn write_to(&self, out: &mut [u8], order: Endian) {
                let raw = match order {
                    Endian::Big => self.to_be_bytes(),
                    Endian::Little => self.to_le_bytes(),
                };
                out[..size_of::<$t>()].copy_from_slice(&raw);
            }
        }
    )*};
}

numbers!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

impl<T: Packed, const N: usize> Packed for [T; N] {
    const SIZE: usize = T::SIZE * N;

    #[inline]
    fn read_from(bytes: &[u8], order: Endian) -> Self {
        std::array::from_fn(|i| T::read_from(&bytes[i * T::SIZE..], order))
    }

    #[inline]
    fn write_to(&self, out: &mut [u8], order: Endian) {
        for (i, item) in self.iter().enumerate() {
            item.write_to(&mut out[i * T::SIZE..], order);
        }
    }
}

macro_rules! tuples {
    ($( ($($name:ident $index:tt),+) )*) => {$(
        impl<$($name: Packed),+> Packed for ($($name,)+) {
            const SIZE: usize = 0 $(+ $name::SIZE)+;

            #[inline]
            #[allow(unused_assignments, reason = "the last element's offset is not read")]
            fn read_from(bytes: &[u8], order: Endian) -> Self {
                let mut at = 0;
                ($({
                    let value = $name::read_from(&bytes[at..], order);
                    at += $name::SIZE;
                    value
                },)+)
            }

            #[inline]
            #[allow(unused_assignments, reason = "the last element's offset is not read")]
            fn write_to(&self, out: &mut [u8], order: Endian) {
                let mut at = 0;
                $(
                    self.$index.write_to(&mut out[at..], order);
                    at += $name::SIZE;
                )+
            }
        }
    )*};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
}

/// The width of a length prefix: `u8`, `u16` or `u32` (big endian), for
/// [`Stream::write_prefixed`](crate::Stream::write_prefixed) and
/// `#[on_read(prefix = u16)]`.
pub trait PrefixLen: Packed + TryFrom<usize> + Sealed {}

impl PrefixLen for u8 {}
impl PrefixLen for u16 {}
impl PrefixLen for u32 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
}
use sealed::Sealed;

#[cfg(test)]
mod tests {
    use super::{Endian, Packed};

    #[test]
    fn integers_follow_the_order() {
        assert_eq!(0x0102u16.pack(), [1, 2]);
        assert_eq!(u16::read_from(&[1, 2], Endian::Little), 0x0201);
        assert_eq!((-2i32).pack(), [0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(f32::unpack(&1.5f32.to_be_bytes()), Some(1.5));
        let mut out = [0; 8];
        0x0102_0304_0506_0708u64.write_to(&mut out, Endian::Little);
        assert_eq!(out, [8, 7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn tuples_and_arrays_are_concatenations() {
        type T = (u8, [u8; 3], (u16, i8), [u16; 2]);
        assert_eq!(T::SIZE, 1 + 3 + 3 + 4);
        let value: T = (1, *b"abc", (0x0203, -1), [4, 5]);
        let bytes = value.pack();
        assert_eq!(bytes, [1, b'a', b'b', b'c', 2, 3, 0xff, 0, 4, 0, 5]);
        assert_eq!(T::unpack(&bytes), Some(value));
        let mut little = vec![0; T::SIZE];
        value.write_to(&mut little, Endian::Little);
        assert_eq!(little, [1, b'a', b'b', b'c', 3, 2, 0xff, 4, 0, 5, 0]);
        assert_eq!(T::read_from(&little, Endian::Little), value);
    }

    #[test]
    fn unpack_wants_the_exact_size() {
        assert_eq!(<(u16, u16)>::unpack(&[0, 42, 0, 81]), Some((42, 81)));
        assert_eq!(<(u16, u16)>::unpack(&[0, 42, 0]), None);
        assert_eq!(<(u16, u16)>::unpack(&[0, 42, 0, 81, 0]), None);
    }

    #[test]
    fn round_trips_at_the_extremes() {
        for v in [0u32, 1, 255, 256, u32::MAX] {
            assert_eq!(u32::unpack(&v.pack()), Some(v));
        }
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            let mut out = [0; 8];
            v.write_to(&mut out, Endian::Little);
            assert_eq!(i64::read_from(&out, Endian::Little), v);
        }
    }
}
