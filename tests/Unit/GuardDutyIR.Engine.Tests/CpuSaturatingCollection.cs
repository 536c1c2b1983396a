namespace GuardDutyIR.Engine.Tests;

/// <summary>
/// Tests that keep every core busy (endless and bomb-sized trail files parsed on all cores, DuckDB over many files) run
/// on their own, after the parallel collections: beside them, a test that proves a deadline (a TLS failure reported as
/// a ConnectionError before the 2 s connect timeout, a stop that ends within a second) waited for a thread-pool thread
/// instead, and failed in CI with the right code answering too late.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CpuSaturatingCollection
{
    public const string Name = "CpuSaturating";
}
