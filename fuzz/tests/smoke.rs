//! The fuzz harness in the test suite: a short run (the full one is `cargo run --release -p
//! blyan-fuzz`, docs/fuzz.md) must find no panic and no invariant violation, and must reach
//! the deep paths: accepted calls of every kind that has them. (`dataset.finalize_vote` has
//! none: the hook concludes every vote in the block after it ends, docs/fuzz.md.)

#[test]
fn a_short_fuzz_run_finds_nothing_and_reaches_every_pallet() {
	let stats = blyan_fuzz::run(6_000, 7, 2_000, &mut |_| {});
	assert_eq!((stats.panics, stats.violations), (0, 0), "{:#?}", stats.findings);
	for call in [
		"content_store.publish_tile",
		"content_store.commit_manifest",
		"content_store.prune",
		"model_spec.register_spec",
		"model_spec.record_migration",
		"param_dag.propose_block",
		"dataset.submit_dataset",
		"dataset.report_audit",
		"dataset.vote",
		"pol.submit_claim",
		"pol.commit_report",
	] {
		let (ok, _) = stats.per_call.get(call).copied().unwrap_or_default();
		assert!(ok > 0, "{call} never succeeded: {:?}", stats.per_call);
	}
	assert!(stats.blocks > 100);
}
