//! The Pants tutorial, in Rust.
//!
//! (Written out in full in the README; this page will hold the step-by-step version.)
