//! Corpora: parsing, content roots, the validation split, mixing ratios and batches.

mod common;

use blyan_moe::data::{parse_fortunes, parse_plain, ratios_ppm, Dataset, Mixture, PPM};
use blyan_moe::Error;

#[test]
fn parse_fortunes_splits_on_percent_lines() {
	let s = parse_fortunes("one\nline\n%\ntwo\n%\n\n%\nthree\n");
	assert_eq!(s, vec!["one\nline", "two", "three"]);
}

#[test]
fn parse_plain_splits_on_blank_lines() {
	assert_eq!(parse_plain("a b\nc\n\n\nd\n"), vec!["a b\nc", "d"]);
}

#[test]
fn from_text_fails_on_empty_corpus() {
	assert!(matches!(Dataset::from_text("e", "%\n%\n  \n"), Err(Error::EmptyCorpus(_))));
	assert!(matches!(Dataset::from_text("e", ""), Err(Error::EmptyCorpus(_))));
}

#[test]
fn from_file_fails_on_binary_and_empty_files() {
	let dir = tempfile::tempdir().unwrap();
	let bin = dir.path().join("bin");
	std::fs::write(&bin, [0x66, 0x6f, 0xff, 0xfe, 0x00]).unwrap();
	assert!(matches!(Dataset::from_file(&bin), Err(Error::NotText { offset: 2, .. })));
	let nul = dir.path().join("nul");
	std::fs::write(&nul, b"text\0more").unwrap();
	assert!(matches!(Dataset::from_file(&nul), Err(Error::NotText { offset: 4, .. })));
	let empty = dir.path().join("empty");
	std::fs::write(&empty, b"").unwrap();
	assert!(matches!(Dataset::from_file(&empty), Err(Error::EmptyCorpus(_))));
	let empty_dir = dir.path().join("none");
	std::fs::create_dir(&empty_dir).unwrap();
	assert!(matches!(Dataset::load_corpus(&empty_dir), Err(Error::EmptyCorpus(_))));
}

#[test]
fn load_corpus_skips_fortune_index_files() {
	let dir = tempfile::tempdir().unwrap();
	std::fs::write(dir.path().join("b"), "x y z\n%\nq r s\n").unwrap();
	std::fs::write(dir.path().join("a"), "para one\n\npara two\n").unwrap();
	std::fs::write(dir.path().join("a.dat"), [0u8, 1, 2]).unwrap();
	std::fs::write(dir.path().join(".hidden"), "x").unwrap();
	let ds = Dataset::load_corpus(dir.path()).unwrap();
	let names: Vec<_> = ds.iter().map(|d| d.name.as_str()).collect();
	assert_eq!(names, ["a", "b"]);
	assert_eq!(ds[1].samples, ["x y z", "q r s"]);
}

#[test]
fn content_root_commits_to_every_sample_and_their_order() {
	let a = common::dataset_a();
	let mut b = a.clone();
	assert_eq!(a.content_root(), b.content_root());
	b.samples.swap(0, 1);
	assert_ne!(a.content_root(), b.content_root());
	let mut c = a.clone();
	c.samples[5].push('!');
	assert_ne!(a.content_root(), c.content_root());
}

#[test]
fn split_is_deterministic_and_disjoint() {
	let a = common::dataset_a();
	let (train, val) = (a.train_text(300), a.validation_text(300));
	assert!(!val.is_empty() && !train.is_empty());
	assert_eq!(train.len() + val.len(), a.samples.iter().map(|s| s.len() + 3).sum::<usize>());
	assert_eq!(a.validation_text(300), val);
	assert!(a.validation_text(0).is_empty());
}

#[test]
fn ratios_ppm_sum_to_one_million() {
	let r = ratios_ppm(&[1, 1, 1]).unwrap();
	assert_eq!(r.iter().sum::<u32>(), PPM);
	assert_eq!(r, vec![333_334, 333_333, 333_333]);
	// The same definition as the trainer's worker (blyan_primitives::shares).
	assert_eq!(Some(r), blyan_primitives::shares::ratios_ppm(&[1, 1, 1]));
	assert!(ratios_ppm(&[0, 0]).is_err());
	assert!(ratios_ppm(&[]).is_err());
}

#[test]
fn batches_are_deterministic_by_seed_and_step_and_follow_the_ratios() {
	let ds = [common::dataset_a(), common::dataset_b()];
	let m = Mixture::new(&ds, &[PPM, 0], 100, 16).unwrap();
	let b1 = m.batch(5, 3, 4, 16);
	assert_eq!(b1, m.batch(5, 3, 4, 16));
	assert_ne!(b1.hash, m.batch(6, 3, 4, 16).hash);
	assert_ne!(b1.hash, m.batch(5, 4, 4, 16).hash);
	assert_eq!(b1.inputs.len(), 64);
	assert_eq!(&b1.inputs[1..16], &b1.targets[..15]);
	// All rows come from dataset A: its bytes only.
	let a_text = ds[0].train_text(100);
	let window: Vec<u8> = b1.inputs[..16].iter().map(|x| *x as u8).collect();
	assert!(a_text.windows(16).any(|w| w == window.as_slice()));
	let only_b = Mixture::new(&ds, &[0, PPM], 100, 16).unwrap();
	assert_ne!(only_b.batch(5, 3, 4, 16).hash, b1.hash);
}

#[test]
fn mixture_fails_on_short_datasets_and_bad_ratios() {
	let tiny = Dataset::from_text("tiny", "ab\n%\ncd\n").unwrap();
	assert!(matches!(
		Mixture::new(&[tiny.clone()], &[PPM], 0, 64),
		Err(Error::DatasetTooShort { .. })
	));
	assert!(matches!(Mixture::new(&[tiny], &[5], 0, 2), Err(Error::InvalidTraining(_))));
}
