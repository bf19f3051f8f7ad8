//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' entry points
//! on the stable toolchain, then a fixed number of seeded random and mutated inputs: what
//! the fuzzer found once stays fixed, without nightly or cargo-fuzz.

use std::path::PathBuf;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 3] = [
    ("frames", reign_core::__fuzz::frames),
    ("hello", reign_tls::__fuzz::hello),
    ("payload", reign_core::__fuzz::payload),
];

/// Random inputs per target, after the corpus.
const RANDOM_INPUTS: usize = 20_000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// xorshift64*: a fixed seed, so that a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A corpus entry with a few bytes changed, inserted, removed or cut; or fresh bytes.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    if corpus.is_empty() || rng.below(4) == 0 {
        let len = rng.below(64);
        return (0..len).map(|_| rng.next() as u8).collect();
    }
    let mut b = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let n = b.len();
        match rng.below(5) {
            0 if n > 0 => b[rng.below(n)] = rng.next() as u8,
            1 => b.insert(rng.below(n + 1), rng.next() as u8),
            2 if n > 0 => {
                b.remove(rng.below(n));
            }
            3 if n > 0 => b.truncate(rng.below(n)),
            // A large varint length somewhere: the decoders' worst case.
            _ => {
                let at = rng.below(n + 1);
                let mut len = vec![0xfd];
                len.extend_from_slice(&(rng.next() | 1 << 62).to_le_bytes());
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
        let mut rng = Rng(0x5eed_0000 + name.len() as u64);
        for _ in 0..RANDOM_INPUTS {
            target(&mutate(&mut rng, &corpus));
        }
    }
}
