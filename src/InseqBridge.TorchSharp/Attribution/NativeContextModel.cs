using InseqBridge.Attribution;
using InseqBridge.Attribution.Context;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Native.Generation;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;
using TextGenerator = InseqBridge.Native.Generation.Generator;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// A <see cref="NativeAttributionModel"/> seen as an <see cref="IContextAttributionModel"/> for context attribution
/// (PECoRe): token strings from its tokenizer, generation with special tokens kept, and decoder prefixes for
/// encoder-decoders (Inseq's <c>decoder_input_ids</c>). Does not own the model.
/// </summary>
public sealed class NativeContextModel : IContextAttributionModel
{
    private readonly NativeAttributionModel _model;
    private readonly HashSet<string> _special;

    /// <summary>Wraps <paramref name="model"/> (not disposed by <see cref="Dispose"/>).</summary>
    public NativeContextModel(NativeAttributionModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _special = model.Tokenizer.Special.AllSpecialIds.Select(id => model.Tokenizer.IdToToken(id)).OfType<string>().ToHashSet(StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public ModelInfo Info => _model.Info;

    /// <inheritdoc />
    public AttributionMethod DefaultMethod => _model.DefaultMethod;

    /// <inheritdoc />
    public bool IsEncoderDecoder => _model.IsEncoderDecoder;

    /// <inheritdoc />
    public string BosToken => _model.Tokenizer.IdToToken(_model.BosId) ?? string.Empty;

    /// <inheritdoc />
    public string PadToken => _model.PadToken;

    /// <inheritdoc />
    public Task<FeatureAttributionOutput> AttributeAsync(AttributionRequest request, IProgress<AttributionProgress>? progress = null, CancellationToken cancellationToken = default) =>
        _model.AttributeAsync(request, progress, cancellationToken);

    /// <inheritdoc />
    public FeatureAttributionOutput Attribute(AttributionRequest request, CancellationToken cancellationToken = default) =>
        _model.Attribute(request, cancellationToken);

    /// <inheritdoc />
    public bool IsSpecialToken(string token) => _special.Contains(token);

    /// <inheritdoc />
    public IReadOnlyList<string> ConvertStringToTokens(string text, bool asTarget) =>
        _model.Tokenizer.ConvertIdsToTokens(_model.Tokenizer.Encode(text, addSpecialTokens: true, asTarget: asTarget && IsEncoderDecoder));

    /// <inheritdoc />
    public string ConvertTokensToString(IReadOnlyList<string> tokens, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);

        // Runs of ordinary tokens are decoded together; special tokens are copied as they are (no spaces added).
        var text = new System.Text.StringBuilder();
        var run = new List<int>();
        void Flush()
        {
            if (run.Count > 0)
            {
                text.Append(_model.Tokenizer.Decode(run, skipSpecialTokens: false, cleanUpTokenizationSpaces: false));
                run.Clear();
            }
        }

        foreach (string token in tokens)
        {
            if (IsSpecialToken(token))
            {
                Flush();
                if (!skipSpecialTokens)
                {
                    text.Append(token);
                }

                continue;
            }

            int id = _model.Tokenizer.TokenToId(token) ?? throw new InvalidInputException($"Token '{token}' is not in the tokenizer's vocabulary.");
            run.Add(id);
        }

        Flush();
        return text.ToString();
    }

    /// <inheritdoc />
    public string Generate(string input, GenerationArguments generation, string? decoderPrefix, bool prefixSpecialTokens, bool outputGeneratedOnly, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(generation);
        var tokenizer = _model.Tokenizer;
        IReadOnlyList<int> prompt = tokenizer.Encode(input);
        TokenIdGuard.Check(prompt, _model.Model, "the tokenizer");
        var options = new GenerationOptions
        {
            MaxNewTokens = generation.MaxNewTokens,
            DoSample = generation.DoSample,
            Temperature = generation.Temperature,
            TopK = generation.TopK,
            TopP = generation.TopP,
            RepetitionPenalty = generation.RepetitionPenalty,
            NoRepeatNgramSize = generation.NoRepeatNgramSize,
            NumBeams = generation.NumBeams,
            LengthPenalty = generation.LengthPenalty,
            Seed = generation.Seed,
        };
        IEnumerable<int> ids;
        if (!IsEncoderDecoder)
        {
            int[] generated = TextGenerator.Generate(_model.Model, _model.Generation, [prompt], options, cancellationToken)[0];
            ids = outputGeneratedOnly ? generated : [.. prompt, .. generated];
        }
        else if (decoderPrefix is null)
        {
            int[] generated = TextGenerator.Generate(_model.Model, _model.Generation, [prompt], options, cancellationToken)[0];
            ids = [_model.Generation.DecoderStartTokenId ?? _model.BosId, .. generated];
        }
        else
        {
            var prefix = new List<int> { _model.BosId };
            prefix.AddRange(tokenizer.Encode(decoderPrefix, addSpecialTokens: prefixSpecialTokens, asTarget: true));
            if (prefixSpecialTokens && prefix.Count > 1 && prefix[^1] == _model.EosId)
            {
                prefix.RemoveAt(prefix.Count - 1);
            }

            ids = GreedyFromPrefix(prompt, prefix, options, cancellationToken);
        }

        return tokenizer.Decode(ids, skipSpecialTokens: false, cleanUpTokenizationSpaces: false);
    }

    /// <summary>Greedy decoding of an encoder-decoder continuing a forced decoder prefix (transformers' generate with
    /// <c>decoder_input_ids</c>), one full decoder pass per token.</summary>
    private List<int> GreedyFromPrefix(IReadOnlyList<int> source, List<int> prefix, GenerationOptions options, CancellationToken cancellationToken)
    {
        var config = _model.Generation with
        {
            RepetitionPenalty = options.RepetitionPenalty ?? _model.Generation.RepetitionPenalty,
            NoRepeatNgramSize = options.NoRepeatNgramSize ?? _model.Generation.NoRepeatNgramSize,
            NumBeams = options.NumBeams ?? _model.Generation.NumBeams,
        };
        if ((options.DoSample ?? config.DoSample) || config.NumBeams > 1)
        {
            throw new InvalidRequestException(
                "Generating after a forced decoder prefix supports greedy decoding only natively; drop do_sample / num_beams from the generation arguments.");
        }

        TokenIdGuard.Check(prefix, _model.Model, "the tokenizer");
        int maxNew = options.MaxNewTokens ?? config.MaxNewTokens ?? Math.Max(0, config.MaxLength - prefix.Count);
        int maxLength = prefix.Count + maxNew;
        var eos = new HashSet<int>(config.EosTokenIds);
        var sequence = prefix.Select(i => (long)i).ToList();
        var model = _model.Model;
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using Tensor sourceIds = torch.tensor(source.Select(i => (long)i).ToArray(), [1, source.Count], device: model.Device);
        using Tensor sourceMask = torch.ones(1, source.Count, dtype: ScalarType.Int64, device: model.Device);
        EncoderOutput encoder = model.Encode(model.EmbedEncoderTokens(sourceIds), sourceMask, ForwardOptions.None);
        for (int step = 0; step < maxNew; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var stepScope = torch.NewDisposeScope();
            using Tensor decoderIds = torch.tensor(sequence.ToArray(), [1, sequence.Count], device: model.Device);
            DecoderOutput output = model.Decode(model.EmbedDecoderTokens(decoderIds), null, null, encoder, sourceMask, null, ForwardOptions.None);
            using Tensor logits = output.Logits.select(1, -1).to(ScalarType.Float32);
            float[] row = logits.data<float>().ToArray();
            LogitsProcessors.Apply(row, sequence, sequence.Count, maxLength, config, eos);
            int best = 0;
            for (int i = 1; i < row.Length; i++)
            {
                if (row[i] > row[best])
                {
                    best = i;
                }
            }

            sequence.Add(best);
            if (eos.Contains(best))
            {
                break;
            }
        }

        return sequence.Select(i => (int)i).ToList();
    }

    /// <summary>Nothing to release: the wrapped model belongs to the caller.</summary>
    public void Dispose()
    {
    }
}
