//! The L0 dataset pre-filter (SPEC "Chain D", seed §13.3): cheap, deterministic checks that
//! validators' off-chain workers run on a dataset's published text before the community vote.
//!
//! Every figure is a share of the samples in per mille, rounded down, so any two validators
//! report the same numbers; the figures and the auto-reject rules (PII > 10 ‰, toxicity
//! > 100 ‰, duplicates > 950 ‰, unknown licence, any sample shared with the validation set)
//! are `blyan_primitives::audit`, applied on chain by `pallet-dataset`.
//!
//! These are heuristics, not classifiers: regular expressions for e-mail addresses, phone
//! numbers and US social-security numbers; a short keyword list for toxicity; ASCII letters
//! plus common English function words for the language.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;

use crate::data::sample_hash;
pub use blyan_primitives::audit::{AuditFigures, MAX_SAMPLE_CHARS, MIN_SAMPLE_CHARS};
use blyan_primitives::{audit::permille, Hash};

/// Words whose presence marks a sample as toxic for the L0 filter (lower-case, whole words).
/// Deliberately short: it flags slurs and explicit abuse, not topics.
pub const TOXIC_WORDS: &[&str] = &[
	"fuck",
	"fucking",
	"motherfucker",
	"cunt",
	"nigger",
	"faggot",
	"retard",
	"whore",
	"slut",
	"kill yourself",
];

/// English function words; a sample with at least one of them (and mostly ASCII letters) counts
/// as English.
const ENGLISH_WORDS: &[&str] =
	&["the", "and", "of", "to", "a", "is", "in", "you", "it", "that", "i", "for", "be", "not"];

fn pii_patterns() -> &'static [Regex; 3] {
	static P: OnceLock<[Regex; 3]> = OnceLock::new();
	P.get_or_init(|| {
		[
			// e-mail
			Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("valid regex"),
			// US SSN
			Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").expect("valid regex"),
			// phone: optional country code, then 3-3-4 digits with separators or 10 digits
			Regex::new(r"(?:\+\d{1,3}[ .-]?)?\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")
				.expect("valid regex"),
		]
	})
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
	s.split(|c: char| !c.is_alphanumeric() && c != '\'')
		.filter(|w| !w.is_empty())
		.map(|w| w.to_lowercase())
}

/// Whether a sample contains a toxic keyword (whole words; multi-word entries as substrings).
pub fn is_toxic(sample: &str) -> bool {
	let lower = sample.to_lowercase();
	let ws: HashSet<String> = words(sample).collect();
	TOXIC_WORDS
		.iter()
		.any(|t| if t.contains(' ') { lower.contains(t) } else { ws.contains(*t) })
}

/// Whether a sample contains personal data (e-mail, SSN, phone).
pub fn has_pii(sample: &str) -> bool {
	pii_patterns().iter().any(|r| r.is_match(sample))
}

/// Whether a sample looks English: at least 90 % of its letters are ASCII and it has an
/// English function word.
pub fn is_english(sample: &str) -> bool {
	let letters = sample.chars().filter(|c| c.is_alphabetic()).count();
	if letters == 0 {
		return false;
	}
	let ascii = sample.chars().filter(|c| c.is_ascii_alphabetic()).count();
	ascii * 10 >= letters * 9 && words(sample).any(|w| ENGLISH_WORDS.contains(&w.as_str()))
}

/// The hash under which a sample is compared with the validation set: blake3 of the sample
/// lowercased, with every run of white space collapsed to one space and the ends trimmed, so
/// that re-wrapping or re-casing a validation sample does not hide it.
pub fn normalized_hash(sample: &str) -> Hash {
	let lower = sample.to_lowercase();
	let normal: Vec<&str> = lower.split_whitespace().collect();
	*blake3::hash(normal.join(" ").as_bytes()).as_bytes()
}

/// The normalized hashes of a validation set's samples, for [`audit_against`].
pub fn validation_hashes(validation: &[String]) -> HashSet<Hash> {
	validation.iter().map(|s| normalized_hash(s)).collect()
}

/// Replaces every e-mail address, US SSN and phone number in `text` with `[email]`,
/// `[ssn]` and `[phone]`: the scrubbing a dataset creator applies before publishing, so that
/// old Usenet signatures in the fortunes corpus do not fail the PII rule.
pub fn redact_pii(text: &str) -> String {
	let [email, ssn, phone] = pii_patterns();
	let text = email.replace_all(text, "[email]");
	let text = ssn.replace_all(&text, "[ssn]");
	phone.replace_all(&text, "[phone]").into_owned()
}

/// Audits `samples` (already split, e.g. by [`crate::data::Dataset::from_text`]);
/// `validation_overlap` is 0 (no validation set to compare with: [`audit_against`]).
pub fn audit(samples: &[String]) -> AuditFigures {
	audit_against(samples, &HashSet::new())
}

/// Audits `samples` and counts those whose [`normalized_hash`] is in `validation` (the
/// current spec's validation set, [`validation_hashes`]).
pub fn audit_against(samples: &[String], validation: &HashSet<Hash>) -> AuditFigures {
	let mut seen = HashSet::new();
	let (mut toxic, mut dup, mut pii, mut english, mut out, mut overlap) = (0, 0, 0, 0, 0, 0u32);
	for s in samples {
		if !seen.insert(sample_hash(s)) {
			dup += 1;
		}
		toxic += usize::from(is_toxic(s));
		pii += usize::from(has_pii(s));
		english += usize::from(is_english(s));
		let chars = s.chars().count();
		out += usize::from(!(MIN_SAMPLE_CHARS..=MAX_SAMPLE_CHARS).contains(&chars));
		if !validation.is_empty() && validation.contains(&normalized_hash(s)) {
			overlap = overlap.saturating_add(1);
		}
	}
	let n = samples.len();
	AuditFigures {
		toxicity_permille: permille(toxic, n),
		duplicate_permille: permille(dup, n),
		pii_permille: permille(pii, n),
		english_permille: permille(english, n),
		out_of_range_permille: permille(out, n),
		validation_overlap: overlap,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn s(v: &[&str]) -> Vec<String> {
		v.iter().map(|x| x.to_string()).collect()
	}

	#[test]
	fn detectors() {
		assert!(has_pii("write to jane.doe@example.org today"));
		assert!(has_pii("my number is 078-05-1120"));
		assert!(has_pii("call (555) 123-4567 now"));
		assert!(has_pii("call +1 555 123 4567 now"));
		assert!(!has_pii("In 1984 there were 3 bears and 12 dwarves."));
		assert!(is_toxic("well, fuck this"));
		assert!(!is_toxic("Scunthorpe is a town in England."), "whole words only");
		assert!(is_english("The early bird gets the worm."));
		assert!(!is_english("Der frühe Vogel fängt den Wurm, ça va très bien."));
		assert!(!is_english("1234 5678"));
	}

	#[test]
	fn figures_are_per_mille_rounded_down() {
		let samples = s(&[
			"The quick brown fox jumps over the lazy dog.",
			"The quick brown fox jumps over the lazy dog.",
			"Mail me at someone@example.com if you want the rest of it.",
			"short",
			"Ein kurzer deutscher Satz über nichts Besonderes hier.",
			"What the fuck is going on in the kitchen tonight?",
		]);
		let r = audit(&samples);
		assert_eq!(r.duplicate_permille, 166); // 1 of 6
		assert_eq!(r.pii_permille, 166);
		assert_eq!(r.toxicity_permille, 166);
		assert_eq!(r.out_of_range_permille, 166); // "short"
		assert_eq!(r.english_permille, 666); // 4 of 6 (not "short", not German)
		assert_eq!(audit(&[]), AuditFigures::default());
		assert_eq!(r.validation_overlap, 0);
	}

	#[test]
	fn samples_of_the_validation_set_are_found_through_case_and_white_space() {
		let validation = s(&["A penny saved is a penny earned.", "Never trust a computer."]);
		let v = validation_hashes(&validation);
		let samples = s(&[
			"a  penny saved is\na PENNY earned.",
			"Something else entirely, long enough to count.",
			"  Never trust a computer. ",
		]);
		assert_eq!(audit_against(&samples, &v).validation_overlap, 2);
		assert_eq!(audit_against(&samples[1..2], &v).validation_overlap, 0);
		assert_eq!(audit(&samples).validation_overlap, 0);
	}

	#[test]
	fn redaction_removes_what_the_pii_rule_counts() {
		let t = "mail jane@example.org, call (555) 123-4567, ssn 078-05-1120.";
		assert_eq!(redact_pii(t), "mail [email], call [phone], ssn [ssn].");
		assert!(!has_pii(&redact_pii(t)));
	}

	#[test]
	fn the_fortunes_corpus_passes_the_auto_reject_rules_once_scrubbed() {
		// Installed by scripts/setup.sh (Debian's `fortunes`), as the other corpus tests need.
		let dir = std::path::Path::new("/usr/share/games/fortunes");
		assert!(dir.exists(), "install the corpus: apt-get install fortunes");
		let mut raw_over = Vec::new();
		let mut all = Vec::new();
		for d in crate::data::Dataset::load_corpus(dir).unwrap() {
			let raw = audit(&d.samples);
			if raw.pii_permille > 10 {
				raw_over.push(d.name.clone());
			}
			let scrubbed: Vec<String> = d.samples.iter().map(|s| redact_pii(s)).collect();
			let r = audit(&scrubbed);
			assert_eq!(r.pii_permille, 0, "{}", d.name);
			assert!(r.toxicity_permille <= 100 && r.duplicate_permille <= 950, "{}: {r:?}", d.name);
			all.extend(scrubbed);
		}
		// The language share is informational (no rule); the corpus as a whole is English
		// (the `ascii-art` topic alone is 60 %).
		assert!(audit(&all).english_permille >= 900, "{:?}", audit(&all));
		// Usenet signatures: unscrubbed, the `cookie` topic has 2.2 % samples with an e-mail
		// address, above the 1 % rule.
		assert!(raw_over.contains(&"cookie".to_string()), "{raw_over:?}");
	}
}
