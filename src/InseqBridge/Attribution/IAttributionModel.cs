using InseqBridge.Data;

namespace InseqBridge.Attribution;

/// <summary>
/// A loaded model ready to attribute, from any backend. Thread safety: the native backend's models accept
/// concurrent calls (weights are read-only and every call has its own tensors).
/// </summary>
public interface IAttributionModel : IDisposable
{
    /// <summary>Model and tokenizer names as Inseq records them (model_name, model_class, tokenizer_name, tokenizer_class).</summary>
    ModelInfo Info { get; }

    /// <summary>The method used when a request names none.</summary>
    AttributionMethod DefaultMethod { get; }

    /// <summary>True for encoder-decoder models.</summary>
    bool IsEncoderDecoder { get; }

    /// <summary>Attributes asynchronously.</summary>
    Task<FeatureAttributionOutput> AttributeAsync(
        AttributionRequest request,
        IProgress<AttributionProgress>? progress = null,
        CancellationToken cancellationToken = default);

    /// <summary>Attributes synchronously.</summary>
    FeatureAttributionOutput Attribute(AttributionRequest request, CancellationToken cancellationToken = default);
}

/// <summary>Names recorded in <c>info</c>.</summary>
/// <param name="ModelName">Path or hub id of the model.</param>
/// <param name="ModelClass">HF class name (e.g. GPT2LMHeadModel).</param>
/// <param name="TokenizerName">Tokenizer name (null when loaded with the model, as Inseq records it).</param>
/// <param name="TokenizerClass">HF tokenizer class name.</param>
public sealed record ModelInfo(string ModelName, string ModelClass, string? TokenizerName, string TokenizerClass);
