use super::*;

#[test]
fn delimiter_split_across_reads() {
    let d = Framing::Delimiter(b"\r\n");
    let input = b"line1\r\nline2\r\npart";
    for cut in 0..=input.len() {
        assert_eq!(
            fuzz_split(d, input, &[cut]),
            vec![b"line1".to_vec(), b"line2".to_vec()],
            "cut {cut}"
        );
    }
}
