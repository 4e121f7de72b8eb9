namespace InseqBridge.Serialization;

/// <summary>
/// Bounds on what a reader of untrusted Inseq JSON accepts, checked before anything big is allocated or
/// decompressed: a hostile file fails with an <see cref="InseqJsonException"/> naming the limit instead of
/// exhausting the stack or the memory. The defaults are far above what real attribution files need.
/// </summary>
public sealed record InseqReadLimits
{
    /// <summary>The limits used when none are given.</summary>
    public static InseqReadLimits Default { get; } = new();

    /// <summary>Deepest nesting of JSON arrays and objects (default 256; Inseq files nest about 10 levels).</summary>
    public int MaxDepth { get; init; } = 256;

    /// <summary>Largest file read, compressed or not (default 2 GiB).</summary>
    public long MaxFileBytes { get; init; } = 2L << 30;

    /// <summary>Largest text after decompressing a gzip-compressed file (default 2 GiB, and at most what a .NET
    /// string holds).</summary>
    public long MaxTextBytes { get; init; } = 2L << 30;

    /// <summary>Most elements one tensor may declare (default 100 million, 400 MB as float32).</summary>
    public long MaxTensorElements { get; init; } = 100_000_000;
}
