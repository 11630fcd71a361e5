//! The binaries' tests, in one test binary: each module runs one program (or the library
//! call behind it) the way a user would.

mod demo;
mod errors;
mod lab;
mod overrides;
mod recordings;
mod simulate;
mod teach;
