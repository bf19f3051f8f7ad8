//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' entry points
//! on the stable toolchain, then a fixed number of seeded random and mutated inputs: what
//! the fuzzer found once stays fixed, without nightly or cargo-fuzz.

use std::path::PathBuf;

use reign_core::__fuzz::Rng;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("frames", reign_core::__fuzz::frames),
    ("hello", reign_tls::__fuzz::hello),
    ("operator", reign_tls::__fuzz::operator),
    ("payload", reign_core::__fuzz::payload),
    ("registry", reign_core::__fuzz::registry),
];

/// Random inputs per target, after the corpus.
const RANDOM_INPUTS: usize = 20_000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    reign_core::__fuzz::corpus(&dir)
}

/// A number below `n`, as a `usize`.
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// A corpus entry with a few bytes changed, inserted, removed or cut; or fresh bytes.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    if corpus.is_empty() || below(rng, 4) == 0 {
        let len = below(rng, 64);
        return (0..len).map(|_| rng.next_u64() as u8).collect();
    }
    let mut b = corpus[below(rng, corpus.len())].clone();
    for _ in 0..1 + below(rng, 4) {
        let n = b.len();
        match below(rng, 5) {
            0 if n > 0 => b[below(rng, n)] = rng.next_u64() as u8,
            1 => b.insert(below(rng, n + 1), rng.next_u64() as u8),
            2 if n > 0 => {
                b.remove(below(rng, n));
            }
            3 if n > 0 => b.truncate(below(rng, n)),
            // A large varint length somewhere: the decoders' worst case.
            _ => {
                let at = below(rng, n + 1);
                let mut len = vec![0xfd];
                len.extend_from_slice(&(rng.next_u64() | 1 << 62).to_le_bytes());
                b.splice(at..at, len);
            }
        }
    }
    b
}

#[test]
fn the_corpus_and_random_inputs_pass_every_target() {
    for (name, target) in TARGETS {
        let corpus = corpus(name);
        assert!(!corpus.is_empty(), "no corpus for {name}");
        for input in &corpus {
            target(input);
        }
        let mut rng = Rng::new(0x5eed_0000 + name.len() as u64);
        for _ in 0..RANDOM_INPUTS {
            target(&mutate(&mut rng, &corpus));
        }
    }
}
