namespace InseqBridge.Serialization;

/// <summary>Options of <see cref="InseqJson.Save"/>, mirroring the arguments of Inseq's
/// <c>FeatureAttributionOutput.save</c>.</summary>
/// <param name="Overwrite">Replace existing files instead of refusing.</param>
/// <param name="Compress">Gzip the whole JSON text (Inseq uses level 5 and mtime 0).</param>
/// <param name="SplitSequences">Write one file per sequence, <c>&lt;stem&gt;_&lt;i&gt;.json</c>.</param>
/// <param name="ScoresPrecision">Precision of the stored tensors.</param>
/// <param name="Encoding">Tensor encoding. Defaults to <see cref="InseqJsonEncoding.Inseq07"/> (safetensors in
/// base64, what current Inseq writes and reads); <see cref="InseqJsonEncoding.Inseq06"/> writes numpy arrays for
/// Inseq 0.6 readers.</param>
public sealed record SaveOptions(
    bool Overwrite = false,
    bool Compress = false,
    bool SplitSequences = false,
    ScoresPrecision ScoresPrecision = ScoresPrecision.Float32,
    InseqJsonEncoding Encoding = InseqJsonEncoding.Inseq07)
{
    /// <summary>The defaults of Inseq's <c>save</c>.</summary>
    public static SaveOptions Default { get; } = new();
}
