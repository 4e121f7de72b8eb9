using InseqBridge.Data;

namespace InseqBridge.Serialization;

/// <summary><c>output.Save(path, options)</c>, as in Inseq.</summary>
public static class FeatureAttributionOutputSerializationExtensions
{
    /// <summary>Saves <paramref name="output"/> in Inseq's JSON format; see <see cref="InseqJson.Save"/>.</summary>
    /// <returns>The paths written.</returns>
    public static IReadOnlyList<string> Save(this FeatureAttributionOutput output, string path, SaveOptions? options = null) =>
        InseqJson.Save(output, path, options);
}
