//! Fuzzing entry points: each takes the raw bytes a fuzzer made, decodes
//! them into a case and checks it, panicking on a failed check. The
//! `fuzz/` crate's libFuzzer targets are thin wrappers around these; the
//! unit tests below replay the committed corpus (`fuzz/corpus/<target>/`)
//! through them, so `cargo test` keeps every input that ever found a bug.
//!
//! | target | entry point | checks |
//! |---|---|---|
//! | `read_machine` | `read_machine` | split input gives the unsplit frames (regex and `Any` rules aside); frame lengths within limits; reference models |
//! | `packed` | `packed` | `unpack` wants the exact size; unpack/pack round trip; little endian mirrors big endian per scalar |
//! | `addr` | `addr` | address text parsing (no name resolution): no panic, forms consistent, round trips |
//! | `tls` | `tls` | TLS records to plaintext to frames, cut anywhere; mutated records and garbage end in an error |

mod addr;
mod packed;
mod read;

#[cfg(test)]
pub(crate) use read::delimited_model;
mod tls;

pub use addr::addr;
pub use packed::packed;
pub use read::read_machine;
pub use tls::tls;

/// The fuzzer's bytes, read front to back; reads past the end give zeros.
#[derive(Debug)]
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// A number in `0..n` (`n > 0`) from one byte.
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn rest(self) -> &'a [u8] {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// Runs every file of `fuzz/corpus/<target>/` through `run`.
    fn replay(target: &str, run: fn(&[u8])) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no corpus", dir.display());
        for file in files {
            let data = std::fs::read(&file).expect("a corpus file");
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{} fails", file.display());
        }
    }

    #[test]
    fn corpus_read_machine() {
        replay("read_machine", super::read_machine);
    }

    #[test]
    fn corpus_packed() {
        replay("packed", super::packed);
    }

    #[test]
    fn corpus_addr() {
        replay("addr", super::addr);
    }

    #[test]
    fn corpus_tls() {
        replay("tls", super::tls);
    }

    // ---- regressions: inputs that failed, and what was fixed

    /// A record the client sent before a corrupted one was decrypted in
    /// the same socket read as the corrupted one: `sys/tls.rs` returned
    /// the decryption error and left that record's plaintext in rustls
    /// (a later read handed it out after the error, and the engine, which
    /// closes on the error, never delivered it). Now the plaintext comes
    /// first and the error with the next read.
    #[test]
    fn regression_tls_plaintext_before_a_failing_record_is_delivered() {
        let input = include_bytes!("../../fuzz/corpus/tls/regression-plaintext-before-error");
        super::tls(input);
    }
}
