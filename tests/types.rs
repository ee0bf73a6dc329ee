//! The type-system commands (issue 17) against what the real dotnet-dump printed, whole
//! outputs, byte for byte:
//! - every `dumpmt -md`, `dumpmd`, `dumpclass` and `name2ee` text of the lab's truth (`sos/` of the
//!   `ops` dumps of 8, 9 and 10: a plain class, an exception with an interface and
//!   inherited virtuals, a class whose constructor keeps its own slot; their methods);
//! - [`TARGETS`]: commands chosen to cover every shape, their expected texts in
//!   `tests/expected/types/DUMP/` (the command, spaces as `_` and other characters
//!   outside `[A-Za-z0-9.-]` as `%XX`, then `.txt`), captured from `lab/bin/sos` by
//!   `cargo test --release --test types -- --ignored capture_expected_texts`.
//!
//! One difference is allowed: dotnet-dump names a type emitted at run time
//! `<Unloaded Type>`; clrheap names it (the rest of the line must agree).
mod common;

use std::path::{Path, PathBuf};

/// `(dump, command)`: the targets. On every seed dump, `name2ee` of the leaking cache and
/// `dumpmt -md` and `dumpmd` of what it finds (a static constructor, a constructor, a
/// JIT-compiled method, methods not compiled yet), `name2ee` of a method in both
/// spellings (`module name`, `module!name`); on seed-net8, `name2ee`'s matching rules
/// (a substring of a name, ignoring case: `ring` finds `System.String` and
/// `...ValueStringBuilder`; a generic definition `List<T1>`; no match in any module; an
/// unknown module; no arguments) and `dumpmd` of what is not a MethodDesc (a MethodTable,
/// a small number, a misaligned address) and of a CoreLib method; on the zoo dumps, a
/// type emitted at run time (its `dumpmt -md`, its constructor's `dumpmd`, `name2ee` of a
/// dynamic module, `<dynamic>`), a collectible one (`name2ee`), a static field found as
/// `Type.Field`, arrays (`System.String[]`, `System.Int32[,]`); `dumpclass` and
/// `dumpmt -all` of classes with statics of every kind (zoo's `ZooRoots`), of a generic
/// definition, of `System.String` and `System.Object[]`; `token2ee` of every token kind
/// it takes (found, not loaded, not found, refused, malformed) in one module and in all.
const TARGETS: &[(&str, &str)] = &[
    // seed, .NET 8 regions
    ("seed-net8-wks-heap", "name2ee *!DocProc.Infrastructure.Cache.DocumentCache"),
    ("seed-net8-wks-heap", "dumpmt -md 00007f0e705caf60"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E705CAF50"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E705CAF40"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E705CAEF8"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E705CAF10"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E705CAF28"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E70345A68"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E703FCB00"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E705CAF60"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E705CAF11"),
    ("seed-net8-wks-heap", "dumpmd 1234"),
    ("seed-net8-wks-heap", "name2ee scenarios.dll DocProc.Infrastructure.Cache.DocumentCache..ctor"),
    ("seed-net8-wks-heap", "name2ee scenarios.dll!DocProc.Infrastructure.Cache.DocumentCache.TryGet"),
    ("seed-net8-wks-heap", "name2ee SCENARIOS docproc.infrastructure.cache.documentcache"),
    ("seed-net8-wks-heap", "name2ee *!DocProc.Infrastructure.Cache.DocumentCache.get_count"),
    ("seed-net8-wks-heap", "name2ee System.Private.CoreLib.dll ring"),
    ("seed-net8-wks-heap", "name2ee *!System.Collections.Generic.List"),
    ("seed-net8-wks-heap", "name2ee *!Nope"),
    ("seed-net8-wks-heap", "name2ee nope.dll Foo"),
    ("seed-net8-wks-heap", "name2ee"),
    ("seed-net8-wks-heap", "token2ee scenarios.dll 02000023"),
    ("seed-net8-wks-heap", "token2ee scenarios.dll 0x600004d"),
    ("seed-net8-wks-heap", "token2ee * 06000050"),
    ("seed-net8-wks-heap", "token2ee scenarios.dll 04000055"),
    ("seed-net8-wks-heap", "token2ee scenarios.dll 02000001"),
    ("seed-net8-wks-heap", "token2ee scenarios.dll 01000001"),
    ("seed-net8-wks-heap", "token2ee scenarios.dll 0a000001"),
    ("seed-net8-wks-heap", "token2ee scenarios.dll zz"),
    ("seed-net8-wks-heap", "token2ee System.Private.CoreLib 06000001"),
    ("seed-net8-wks-heap", "dumpclass 00007F0E70658A18"),
    ("seed-net8-wks-heap", "dumpclass 00007F0E703E5CC0"),
    ("seed-net8-wks-heap", "dumpclass 00007f0e705caf60"),
    ("seed-net8-wks-heap", "dumpmt -all 00007f0e705caf60"),
    ("seed-net8-wks-heap", "dumpmt -all 00007f0e703fd7c8"),
    // seed, .NET 8.0.0
    ("seed-net8.0.0-wks-heap", "name2ee *!DocProc.Infrastructure.Cache.DocumentCache"),
    ("seed-net8.0.0-wks-heap", "dumpmt -md 00007f5c596600a0"),
    ("seed-net8.0.0-wks-heap", "dumpmt -md 00007f5c5938d4e0"),
    ("seed-net8.0.0-wks-heap", "dumpmd 00007F5C5938D4D0"),
    ("seed-net8.0.0-wks-heap", "dumpmd 00007F5C5938D4C0"),
    ("seed-net8.0.0-wks-heap", "dumpmd 00007F5C5938D478"),
    ("seed-net8.0.0-wks-heap", "dumpmd 00007F5C5938D490"),
    ("seed-net8.0.0-wks-heap", "dumpclass 00007F5C59479AF0"),
    // seed, .NET 8 segments
    ("seed-net8-segments-heap", "name2ee *!DocProc.Infrastructure.Cache.DocumentCache"),
    ("seed-net8-segments-heap", "dumpmt -md 00007f182a9eaf60"),
    ("seed-net8-segments-heap", "dumpmd 00007F182A9EAF50"),
    ("seed-net8-segments-heap", "dumpmd 00007F182A9EAEF8"),
    ("seed-net8-segments-heap", "dumpmd 00007F182A9EAF10"),
    ("seed-net8-segments-heap", "dumpclass 00007F182AA78A18"),
    // seed, .NET 9
    ("seed-net9-wks-heap", "name2ee *!DocProc.Infrastructure.Cache.DocumentCache"),
    ("seed-net9-wks-heap", "dumpmt -md 00007fe94f057860"),
    ("seed-net9-wks-heap", "dumpmd 00007FE94F057848"),
    ("seed-net9-wks-heap", "dumpmd 00007FE94F057830"),
    ("seed-net9-wks-heap", "dumpmd 00007FE94F0577D0"),
    ("seed-net9-wks-heap", "dumpmd 00007FE94F0577F0"),
    ("seed-net9-wks-heap", "dumpmd 00007FE94F057810"),
    ("seed-net9-wks-heap", "name2ee scenarios.dll DocProc.Infrastructure.Cache.DocumentCache..ctor"),
    ("seed-net9-wks-heap", "name2ee *!System.Collections.Generic.List"),
    ("seed-net9-wks-heap", "token2ee * 02000023"),
    ("seed-net9-wks-heap", "token2ee scenarios 06000050"),
    ("seed-net9-wks-heap", "dumpclass 00007fe94f057860"),
    ("seed-net9-wks-heap", "dumpmt -all 00007fe94f057860"),
    // seed, .NET 10
    ("seed-net10-wks-heap", "name2ee *!DocProc.Infrastructure.Cache.DocumentCache"),
    ("seed-net10-wks-heap", "dumpmt -md 00007f86ae1a2338"),
    ("seed-net10-wks-heap", "dumpmd 00007F86AE1A2320"),
    ("seed-net10-wks-heap", "dumpmd 00007F86AE1A2308"),
    ("seed-net10-wks-heap", "dumpmd 00007F86AE1A22A8"),
    ("seed-net10-wks-heap", "dumpmd 00007F86AE1A22C8"),
    ("seed-net10-wks-heap", "dumpmd 00007F86AE1A22E8"),
    ("seed-net10-wks-heap", "name2ee scenarios.dll DocProc.Infrastructure.Cache.DocumentCache..ctor"),
    ("seed-net10-wks-heap", "name2ee *!System.Collections.Generic.List"),
    ("seed-net10-wks-heap", "token2ee * 02000023"),
    ("seed-net10-wks-heap", "token2ee scenarios 06000050"),
    ("seed-net10-wks-heap", "dumpclass 00007f86ae1a2338"),
    ("seed-net10-wks-heap", "dumpmt -all 00007f86ae1a2338"),
    // seed, .NET 10 server GC
    ("seed-net10-svr-heap", "name2ee *!DocProc.Infrastructure.Cache.DocumentCache"),
    ("seed-net10-svr-heap", "dumpmt -md 00007fdb57982338"),
    ("seed-net10-svr-heap", "dumpmd 00007FDB57982320"),
    ("seed-net10-svr-heap", "dumpmd 00007FDB579822A8"),
    ("seed-net10-svr-heap", "dumpclass 00007fdb57982338"),
    // zoo, .NET 8
    ("zoo-net8-wks-heap", "dumpmt -md 7fa0762cee10"),
    ("zoo-net8-wks-heap", "dumpmt -md 7fa076531b48"),
    ("zoo-net8-wks-heap", "dumpmt -md 7fa0766d7340"),
    ("zoo-net8-wks-heap", "dumpmd 00007FA0766D7318"),
    ("zoo-net8-wks-heap", "dumpmd 00007FA0766FCFD0"),
    ("zoo-net8-wks-heap", "dumpmd 00007fa0763f6ed8"),
    ("zoo-net8-wks-heap", "name2ee *!DocProc.Zoo.Emitted"),
    ("zoo-net8-wks-heap", "name2ee *!Plugin"),
    ("zoo-net8-wks-heap", "name2ee scenarios DocProc.Zoo.Zoo.Run"),
    ("zoo-net8-wks-heap", "name2ee *!DocProc.Zoo.Generic"),
    ("zoo-net8-wks-heap", "token2ee * 02000002"),
    ("zoo-net8-wks-heap", "dumpclass 00007FA076488C20"),
    ("zoo-net8-wks-heap", "dumpclass 00007FA0765D1208"),
    ("zoo-net8-wks-heap", "dumpclass 00007FA07617BEE8"),
    // zoo, .NET 9
    ("zoo-net9-wks-heap", "dumpmt -md 7f10896990b8"),
    ("zoo-net9-wks-heap", "dumpmt -md 7f10898e1a58"),
    ("zoo-net9-wks-heap", "dumpmt -md 7f1089abf400"),
    ("zoo-net9-wks-heap", "dumpmd 00007F1089ABF3D0"),
    ("zoo-net9-wks-heap", "dumpmd 00007F1089ADCD70"),
    ("zoo-net9-wks-heap", "dumpmd 00007f10898335c0"),
    ("zoo-net9-wks-heap", "name2ee *!DocProc.Zoo.Emitted"),
    ("zoo-net9-wks-heap", "name2ee *!Plugin"),
    ("zoo-net9-wks-heap", "name2ee scenarios DocProc.Zoo.Zoo.Run"),
    ("zoo-net9-wks-heap", "dumpclass 00007f1089837df8"),
    ("zoo-net9-wks-heap", "dumpclass 00007f10898efed8"),
    // zoo, .NET 10
    ("zoo-net10-wks-heap", "dumpmt -md 7fa55f1339b8"),
    ("zoo-net10-wks-heap", "dumpmt -md 7fa55f38ac38"),
    ("zoo-net10-wks-heap", "dumpmt -md 7fa55f54cce0"),
    ("zoo-net10-wks-heap", "dumpmd 00007FA55F54CCB0"),
    ("zoo-net10-wks-heap", "dumpmd 00007FA55F56CC10"),
    ("zoo-net10-wks-heap", "dumpmd 00007fa55f13dfb0"),
    ("zoo-net10-wks-heap", "name2ee *!DocProc.Zoo.Emitted"),
    ("zoo-net10-wks-heap", "name2ee *!Plugin"),
    ("zoo-net10-wks-heap", "name2ee scenarios DocProc.Zoo.Zoo.Run"),
    ("zoo-net10-wks-heap", "token2ee * 02000002"),
    ("zoo-net10-wks-heap", "token2ee * 04000001"),
    ("zoo-net10-wks-heap", "dumpclass 00007fa55f3828d0"),
    ("zoo-net10-wks-heap", "dumpclass 00007fa55f3a8e70"),
    ("zoo-net10-wks-heap", "dumpmt -all 00007fa55f3828d0"),
    // Thread statics' per-thread values: `ZooRoots.PerThread` (two threads) and CoreLib's
    // `CultureInfo.s_currentThreadCulture` (8: each thread's ThreadLocalModule; on
    // ops-net8 three threads have CoreLib's but did not initialize CultureInfo's and are
    // not listed; 9, 10: each thread's thread-static array).
    ("zoo-net8-wks-heap", "dumpmt -all 00007fa0763fb410"),
    ("zoo-net9-wks-heap", "dumpmt -all 00007f1089837df8"),
    ("zoo-net8-wks-heap", "dumpmt -all 00007fa076618cd0"),
    ("zoo-net8.0.0-wks-heap", "dumpmt -all 00007fe7cfc9b2e8"),
    ("zoo-net10-wks-heap", "dumpmt -all 00007fa55f511430"),
    ("seed-net8-wks-heap", "dumpmt -all 00007f0e70953c30"),
    ("seed-net9-wks-heap", "dumpmt -all 00007fe94f341800"),
    ("seed-net10-wks-heap", "dumpmt -all 00007f86ae3a4fa0"),
    ("ops-net8-wks-heap", "dumpmt -all 00007f0453493558"),
    ("ops-net9-wks-heap", "dumpmt -all 00007f3af646c688"),
    ("ops-net10-wks-heap", "dumpmt -all 00007f0858ce5658"),
    // dumpmt -md of arrays (the runtime's Get, Set, Address and constructors: rank 1 and
    // jagged, of primitives, structs and generic structs, nested types).
    ("seed-net8-wks-heap", "dumpmt -md 7f0e7084d088"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e70929190"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e709724c8"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e70924080"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e704ca328"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e7084f390"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e70927688"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e705cfd58"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e704c6fb8"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94f2c4558"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94f333a58"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94f31cfd8"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94eeb42f8"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94eeb2f70"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94eeb6e78"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94f2c6ff8"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94eeb6ba8"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94f331150"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86ae3a0b98"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86ae39acf8"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86adf48ff0"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86adf47750"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86adf51870"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86ae3581a0"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86adf515a0"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86ae39ea78"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86ae1a7568"),
    // dumpdelegate on the ops dumps' `OpsRoots.Delegates` (a static method, one bound to an
    // instance, a closure, a three-entry multicast printed last entry first, an event
    // handler; the array itself, which is not a delegate: SOS ends that line without a
    // line end), its usage errors, a single entry of seed's leaking event;
    // dumpruntimetypes on every dump kind (zoo's collectible type's RuntimeType comes
    // first: address order); dumpsig and dumpsigelem on the blobs of the scenarios'
    // metadata in memory (method signatures with and without `this`, generic ones,
    // locals, fields; type specs; a field's type), without a module, and their errors.
    ("ops-net8-wks-heap", "dumpdelegate 00007ec43e048f70"),
    ("ops-net8-wks-heap", "dumpdelegate 00007ec43e048fb0"),
    ("ops-net8-wks-heap", "dumpdelegate 00007ec43e048ff0"),
    ("ops-net8-wks-heap", "dumpdelegate 00007ec43e049140"),
    ("ops-net8-wks-heap", "dumpdelegate 00007ec43e049180"),
    ("ops-net8-wks-heap", "dumpdelegate 00007ec43e0491c0"),
    ("ops-net8-wks-heap", "dumpdelegate 1234"),
    ("ops-net8-wks-heap", "dumpdelegate"),
    ("ops-net8-wks-heap", "dumpdelegate 00007ec43e048f70 00007ec43e048fb0"),
    ("ops-net8-wks-heap", "dumpsig"),
    ("ops-net8-wks-heap", "dumpsig zz"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f947bd"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f947be 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpruntimetypes"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f9479e 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f947a3 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f947a7 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f947d4 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f947e3 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f947e9 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94800 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f9480e 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94814 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94825 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94841 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94891 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f948bb 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94928 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94960 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f949b6 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94a26 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsig 7f04d0f94acd 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f947cb 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f94866 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f948c8 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f948eb 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f948f1 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f94929 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f949b7 00007f04526bcec8"),
    ("ops-net8-wks-heap", "dumpsigelem 7f04d0f94a27 00007f04526bcec8"),
    ("ops-net9-wks-heap", "dumpdelegate 00007efade0492d8"),
    ("ops-net9-wks-heap", "dumpdelegate 00007efade049318"),
    ("ops-net9-wks-heap", "dumpdelegate 00007efade049358"),
    ("ops-net9-wks-heap", "dumpdelegate 00007efade0494a8"),
    ("ops-net9-wks-heap", "dumpdelegate 00007efade0494e8"),
    ("ops-net9-wks-heap", "dumpruntimetypes"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da475e 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4763 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4767 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4794 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da47a3 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da47a9 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da47c0 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da47ce 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da47d4 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da47e5 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4801 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4851 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da487b 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da48e8 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4920 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4976 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da49e6 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsig 7f3b73da4a8d 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da478b 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da4826 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da4888 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da48ab 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da48b1 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da48e9 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da4977 00007f3af56b7038"),
    ("ops-net9-wks-heap", "dumpsigelem 7f3b73da49e7 00007f3af56b7038"),
    ("ops-net10-wks-heap", "dumpdelegate 00007efc7d049428"),
    ("ops-net10-wks-heap", "dumpdelegate 00007efc7d049468"),
    ("ops-net10-wks-heap", "dumpdelegate 00007efc7d04adc8"),
    ("ops-net10-wks-heap", "dumpdelegate 00007efc7d04af30"),
    ("ops-net10-wks-heap", "dumpdelegate 00007efc7d04af70"),
    ("ops-net10-wks-heap", "dumpruntimetypes"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb75e 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb763 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb767 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb794 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb7a3 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb7a9 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb7c0 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb7ce 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb7d4 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb7e5 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb801 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb851 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb87b 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb8e8 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb920 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb976 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eb9e6 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsig 7f08d66eba8d 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb78b 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb826 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb888 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb8ab 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb8b1 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb8e9 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb977 00007f0857f21a30"),
    ("ops-net10-wks-heap", "dumpsigelem 7f08d66eb9e7 00007f0857f21a30"),
    ("seed-net8-wks-heap", "dumpruntimetypes"),
    ("seed-net8-wks-heap", "dumpdelegate 7ece5a8e4930"),
    ("seed-net8.0.0-wks-heap", "dumpruntimetypes"),
    ("seed-net8-segments-heap", "dumpruntimetypes"),
    ("seed-net10-svr-heap", "dumpruntimetypes"),
    ("zoo-net8-wks-heap", "dumpruntimetypes"),
    ("zoo-net9-wks-heap", "dumpruntimetypes"),
    ("zoo-net10-wks-heap", "dumpruntimetypes"),
    ("zoo-net10-svr-heap", "dumpruntimetypes"),
    ("zoo-net8-segments-heap", "dumpruntimetypes"),
    // Generic instantiations (issue 17): `dumpmt -md` of types sharing their canonical
    // type's code (`List<String>`, `Dictionary<String, Object>`: the methods are the
    // `__Canon` instantiation's, "Number of Methods" the EEClass's count, the non-virtual
    // entries the canonical MethodTable's; on 9 and 10 listed in the EEClass's chunk
    // order, `.cctor` last) and of one with its own code (`List<Char>`); a generic method
    // of a generic type (`ConvertAll<TOutput>`, named as its definition, `!!0` kept) in
    // `dumpmd`; a method moved from ReadyToRun code to the JIT's (`JIT`, from its active
    // code version); a nested parameter type by its own name (`ReadWriteParameters`);
    // `name2ee` of a generic type's methods (nested generic definitions named as ClrMD
    // names them, ``Outer`1+Leaf``, `Outer<T1>+Inner<T1>`; on 9 and 10 a slot without an
    // entry point has no method for it); a MethodTable instantiated over an emitted type
    // (dotnet-dump's `<error>` name); an address that is no MethodTable.
    ("seed-net8-wks-heap", "dumpmt -md 7f0e704cbd50"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e70493598"),
    ("seed-net8-wks-heap", "dumpmt -md 7f0e704c3ce0"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E704C9070"),
    ("seed-net8-wks-heap", "dumpmd 00007F0E704C8E80"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94eeb9a68"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94ee063c8"),
    ("seed-net9-wks-heap", "dumpmt -md 7fe94eea52a8"),
    ("seed-net9-wks-heap", "dumpmd 00007FE94EEB19C8"),
    ("seed-net9-wks-heap", "dumpmd 00007FE94EE05A38"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86adf54250"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86ade9a910"),
    ("seed-net10-wks-heap", "dumpmt -md 7f86adf3a0c0"),
    ("seed-net10-wks-heap", "dumpmd 00007F86ADF461A8"),
    ("seed-net10-wks-heap", "dumpmd 00007F86ADE99F80"),
    ("ops-net8-wks-heap", "dumpmt -md 7f0453a64a40"),
    ("ops-net9-wks-heap", "dumpmt -md 7f3af5d427c8"),
    ("ops-net9-wks-heap", "dumpmt -md 7f3af6aa5af0"),
    ("ops-net10-wks-heap", "dumpmt -md 7f085829bc50"),
    ("ops-net10-wks-heap", "dumpmt -md 7f0859326d70"),
    ("zoo-net8-wks-heap", "name2ee scenarios DocProc.Zoo.Outer`1..ctor"),
    ("zoo-net8-wks-heap", "name2ee *!Inner"),
    ("zoo-net8-wks-heap", "name2ee System.Private.CoreLib.dll System.Collections.Generic.List`1..ctor"),
    ("zoo-net8-wks-heap", "dumpmt -md 7fa0766dc938"),
    ("zoo-net8-wks-heap", "dumpmt -md 7fa0766fd340"),
    ("zoo-net9-wks-heap", "name2ee scenarios DocProc.Zoo.Outer`1..ctor"),
    ("zoo-net9-wks-heap", "name2ee *!Inner"),
    ("zoo-net9-wks-heap", "name2ee System.Private.CoreLib.dll System.Collections.Generic.List`1..ctor"),
    ("zoo-net9-wks-heap", "dumpmt -md 00007f1089838690"),
    ("zoo-net9-wks-heap", "dumpmt -md 00007f10898386a0"),
    ("zoo-net10-wks-heap", "name2ee scenarios DocProc.Zoo.Outer`1..ctor"),
    ("zoo-net10-wks-heap", "name2ee *!Inner"),
    ("zoo-net10-wks-heap", "name2ee System.Private.CoreLib.dll System.Collections.Generic.List`1..ctor"),
    ("zoo-net10-wks-heap", "dumpmt -md 7fa55f55e010"),
    // Non-GC thread statics on 9 and 10 (issue 17): `ProcessorIdCache.t_currentProcessorIdCache`
    // (an int in the main thread's in-flight entry: the array's is still empty),
    // `Thread+DirectOnThreadLocalData.pNativeThread` (a `DirectOnThreadLocalData` index: in
    // the `ThreadLocalData` itself, every thread), `Lock+ThreadId.t_threadId` (array
    // entries), `EventSource`'s byte (no thread has it); dumpclass's uppercase token.
    ("ops-net10-wks-heap", "dumpmt -all 00007f08585dadb8"),
    ("ops-net10-wks-heap", "dumpclass 00007f08585dadb8"),
    ("ops-net10-wks-heap", "dumpmt -all 00007f0857e68500"),
    ("ops-net10-wks-heap", "dumpmt -all 00007f08585c5ed8"),
    ("ops-net10-wks-heap", "dumpmt -all 00007f0857f07d40"),
    ("ops-net9-wks-heap", "dumpmt -all 00007f3af5ee10b0"),
    ("ops-net9-wks-heap", "dumpclass 00007f3af5ee10b0"),
    ("ops-net9-wks-heap", "dumpmt -all 00007f3af5d4c1b8"),
    ("zoo-net10-wks-heap", "dumpmt -all 00007fa55f078500"),
];

/// The expected file of a command.
fn expected_file(dump: &str, command: &str) -> PathBuf {
    common::expected_path("types", dump, command)
}

/// Equal, but for `<Unloaded Type>` (and dumpmt's `Name: <error>` for a generic
/// instantiation over an emitted type) where clrheap prints a name, and a generic
/// instantiation over a type emitted at run time, which dotnet-dump's managed commands
/// name as the generic definition (`List<T1>`; see [`emitted_instantiations_are_no_definitions`]).
fn compare(ours: &str, want: &str) -> Result<(), String> {
    let a: Vec<&str> = ours.lines().collect();
    let b: Vec<&str> = want.lines().collect();
    for (n, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let unnamed = y.find("<Unloaded Type>").or_else(|| y.starts_with("Name:").then(|| y.find("<error>")).flatten());
        let ok = match (unnamed, y.strip_suffix("<T1>")) {
            (Some(at), _) => x.len() > at && x[..at] == y[..at] && !x[at..].starts_with('<'),
            (None, Some(head)) => x == y || (x.starts_with(head) && x[head.len()..].starts_with("<DocProc.Zoo.") && x.ends_with('>')),
            (None, None) => x == y,
        };
        if !ok {
            return Err(format!("line {}:\n  ours: {x:?}\n  want: {y:?}", n + 1));
        }
    }
    if a.len() != b.len() {
        return Err(format!("{} lines, want {}\n--- ours\n{ours}--- want\n{want}", a.len(), b.len()));
    }
    if ours.ends_with('\n') != want.ends_with('\n') && !want.is_empty() {
        return Err("the last line's end differs".into());
    }
    Ok(())
}

/// The check name of a command (`dumpmt -md X` -> `dumpmt`).
fn check_of(command: &str) -> &str {
    command.split(' ').next().unwrap_or(command)
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn lab_type_commands_truth() {
    let checks = common::Checks::new();
    for (name, dump, truth) in common::lab_dumps("lab_type_commands_truth") {
        // COMMANDS.tsv (no header): a file, then the commands that made it, the last one
        // its text's. A dump whose truth has none has no texts of these commands.
        let listing = std::fs::read_to_string(truth.join("sos/COMMANDS.tsv")).unwrap_or_default();
        let mut by_check: std::collections::BTreeMap<&str, Vec<(String, String)>> = Default::default();
        for line in listing.lines() {
            let row: Vec<String> = line.split('\t').map(String::from).collect();
            let (Some(file), Some(command)) = (row.first(), row.last()) else { continue };
            let check = match command.split(' ').next() {
                Some("dumpmt") if command.starts_with("dumpmt -md ") => "dumpmt",
                Some("dumpmd") => "dumpmd",
                Some("dumpclass") => "dumpclass",
                Some("token2ee") => "token2ee",
                Some("name2ee") => "name2ee",
                _ => continue,
            };
            by_check.entry(check).or_default().push((file.clone(), command.clone()));
        }
        for (check, files) in by_check {
            checks.run(&name, check, || {
                for (file, command) in &files {
                    let ours = common::try_command(&dump, command)?;
                    let want = common::truth_text(&truth.join("sos").join(file))?;
                    compare(&ours, &want).map_err(|e| format!("{command}: {e}"))?;
                }
                Ok(())
            });
        }
    }
    checks.finish("lab_type_commands_truth");
}

#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn targets_match_dotnet_dump() {
    // A command SOS fails (`Invalid EEClass address`) fails here too: its text is compared
    // all the same.
    let targets: Vec<(&str, String, &str)> =
        TARGETS.iter().map(|&(dump, command)| (dump, format!("{}-targets", check_of(command)), command)).collect();
    common::check_targets(
        "targets_match_dotnet_dump",
        targets.iter().map(|(d, c, cmd)| (*d, c.as_str(), *cmd)),
        expected_file,
        compare,
    );
}

/// Every expected file belongs to a target (none left over from a removed one).
#[test]
fn expected_files_are_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/types");
    let wanted: Vec<PathBuf> = TARGETS.iter().map(|(d, c)| expected_file(d, c)).collect();
    common::expected_files_are_only(&root, &wanted);
}

/// Writes the expected text of every target that has none, from the real dotnet-dump
/// (`lab/bin/sos`). Run by hand: `cargo test --release --test types -- --ignored
/// capture_expected_texts`.
#[test]
#[ignore]
fn capture_expected_texts() {
    common::capture_sos_texts(TARGETS.iter().map(|(d, c)| (d.to_string(), c.to_string(), expected_file(d, c))));
}

#[test]
fn comparison_rules() {
    assert!(compare("Name:                DocProc.Zoo.Emitted.Proxy\n", "Name:                <Unloaded Type>\n").is_ok());
    assert!(compare("Name:                <Unloaded Type>\n", "Name:                <Unloaded Type>\n").is_err());
    assert!(compare("a\n", "a\nb\n").is_err());
    assert_eq!(
        expected_file("d", "name2ee *!A.B_c").file_name().unwrap().to_str().unwrap(),
        "name2ee_%2A%21A.B%5Fc.txt"
    );
}

/// Where dotnet-dump's `dumpruntimetypes` says `System.Collections.Generic.List<T1>` for
/// the RuntimeTypes of `List<Proxy>` and `List<Plugin>` (types emitted at run time),
/// the dump says otherwise: the `m_handle` of those RuntimeType objects is a MethodTable
/// instantiated over the emitted type (its one generic argument is `Proxy`'s or
/// `Plugin`'s MethodTable, not a type variable), so clrheap's name is the right one.
#[test]
#[cfg_attr(no_lab, ignore = "the lab is not unpacked: see README, Tests")]
fn emitted_instantiations_are_no_definitions() {
    use clrheap::dump::{open_dump, DumpOptions};
    use clrheap::heap::{Heap, ObjectAddr};
    use clrheap::runtime::Runtime;
    let Some(lab) = common::lab_dir() else { return };
    for (dump, runtime_type, element) in [
        ("zoo-net8-wks-heap", 0x7fa06d203258u64, "DocProc.Zoo.Emitted.Proxy"),
        ("zoo-net8-wks-heap", 0x7f605e81bfb8, "DocProc.Zoo.Collectible.Plugin"),
        ("zoo-net10-wks-heap", 0x7fa55c2037f0, "DocProc.Zoo.Emitted.Proxy"),
        ("zoo-net10-wks-heap", 0x7f998581c548, "DocProc.Zoo.Collectible.Plugin"),
    ] {
        let path = lab.join("dumps").join(format!("{dump}.dmp"));
        let space = open_dump(&path, &DumpOptions::default()).expect("open the dump");
        let heap = Heap::open(Runtime::discover(std::sync::Arc::new(space)).expect("a runtime")).expect("a heap");
        let object = heap.object(ObjectAddr(runtime_type)).expect("a RuntimeType");
        assert_eq!(&*object.type_name(), "System.RuntimeType");
        let mt = object.runtime_type_handle().expect("m_handle");
        assert_eq!(mt & 2, 0, "a MethodTable");
        let args = heap.generic_args(mt).expect("its instantiation");
        assert_eq!(args.len(), 1, "{dump} {mt:x}");
        assert_eq!(&*heap.type_name(args[0]), element, "{dump} {mt:x}");
        assert_eq!(heap.method_table(args[0]).expect("a MethodTable").token >> 24, 0x02, "a TypeDef's MethodTable");
        assert_eq!(&*heap.type_name(mt), format!("System.Collections.Generic.List<{element}>"));
    }
    // The MethodTables whose `dumpmt` dotnet-dump names `<error>` are those instantiations.
    for (dump, mt, element) in [
        ("zoo-net8-wks-heap", 0x7fa0766dc938u64, "DocProc.Zoo.Emitted.Proxy"),
        ("zoo-net8-wks-heap", 0x7fa0766fd340, "DocProc.Zoo.Collectible.Plugin"),
        ("zoo-net10-wks-heap", 0x7fa55f55e010, "DocProc.Zoo.Emitted.Proxy"),
    ] {
        let path = lab.join("dumps").join(format!("{dump}.dmp"));
        let space = open_dump(&path, &DumpOptions::default()).expect("open the dump");
        let heap = Heap::open(Runtime::discover(std::sync::Arc::new(space)).expect("a runtime")).expect("a heap");
        let args = heap.generic_args(mt).expect("its instantiation");
        assert_eq!(args.len(), 1, "{dump} {mt:x}");
        assert_eq!(&*heap.type_name(args[0]), element, "{dump} {mt:x}");
        assert_eq!(heap.method_table(args[0]).expect("a MethodTable").token >> 24, 0x02, "a TypeDef's MethodTable");
    }
}
