namespace InseqBridge.Native.Tests;

/// <summary>
/// Tests that force garbage collections (the bench resets its memory peak with GC.Collect and runs finalizers) or run
/// many calls concurrently. They run on their own, after the parallel collections: a forced collection while other
/// tests are inside libtorch calls can finalize the temporary TorchSharp scalars those calls still use (a crash seen
/// once in CI as "toFloat" in at::add).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Serial (forced GC, concurrency)";
}
