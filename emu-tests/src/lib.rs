//! The scenario corpus: small C and assembly programs with what must be observed when they run.
