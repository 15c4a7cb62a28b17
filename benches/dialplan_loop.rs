//! The interpreter's hot path: a While/Set/EndWhile loop (3 dialplan steps per iteration),
//! run on a channel exactly as `channel originate` would run it.
//! `cargo bench --bench dialplan_loop`; the whole-daemon figure comes from
//! `contrib/bench/while_loop.sh`.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrisk::pbx::channel::NullTech;
use ferrisk::pbx::{exec, Channel, Pbx};
use std::sync::Arc;

const DIALPLAN: &str = "[bench]\n\
exten => loop,1,Set(i=0)\n\
 same => n,While($[${i} < ${COUNT}])\n\
 same => n,Set(i=$[${i} + 1])\n\
 same => n,EndWhile()\n\
 same => n,Set(DONE=${i})\n";

fn pbx(count: u32) -> Arc<Pbx> {
    let pbx = ferrisk::modules::test_pbx();
    let (dp, _) = ferrisk::pbx::dialplan_from_str("extensions.conf", DIALPLAN)
        .unwrap_or_else(|e| panic!("{e:?}"));
    pbx.set_dialplan(dp);
    pbx.set_global("COUNT", &count.to_string());
    pbx
}

async fn run_loop(pbx: &Arc<Pbx>) {
    let mut chan = Channel::new(
        pbx,
        "Local/loop@bench-00000000;2".into(),
        Arc::new(NullTech),
    );
    chan.context = "bench".into();
    chan.exten = "loop".into();
    chan.priority = 1;
    exec::run_loop(&mut chan, exec::Nest::Top).await;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let mut g = c.benchmark_group("while_loop");
    g.sample_size(10);
    let p = pbx(100_000);
    g.bench_function("100k_iterations_300k_steps", |b| {
        b.iter(|| rt.block_on(run_loop(&p)))
    });
    let p1k = pbx(1_000);
    g.bench_function("1k_iterations_3k_steps", |b| {
        b.iter(|| rt.block_on(run_loop(&p1k)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
