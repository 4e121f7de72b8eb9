namespace InseqBridge.Serialization;

/// <summary>Options of <see cref="InseqJson.Save"/>, mirroring the arguments of Inseq's
/// <c>FeatureAttributionOutput.save</c>.</summary>
/// <param name="Overwrite">Replace existing files instead of refusing.</param>
/// <param name="Compress">Gzip the whole JSON text (Inseq uses level 5 and mtime 0).</param>
/// <param name="SplitSequences">Write one file per sequence, <c>&lt;stem&gt;_&lt;i&gt;.json</c>.</param>
/// <param name="ScoresPrecision">Precision of the stored tensors.</param>
/// <param name="Encoding">Tensor encoding. Defaults to <see cref="InseqJsonEncoding.Inseq06"/> because that is
/// what Inseq 0.6.0 writes (see the parity fixtures) and what both Inseq 0.6 and this library read.</param>
public sealed record SaveOptions(
    bool Overwrite = false,
    bool Compress = false,
    bool SplitSequences = false,
    ScoresPrecision ScoresPrecision = ScoresPrecision.Float32,
    InseqJsonEncoding Encoding = InseqJsonEncoding.Inseq06)
{
    /// <summary>The defaults of Inseq's <c>save</c>.</summary>
    public static SaveOptions Default { get; } = new();
}
