using InseqBridge.Errors;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Generation;

/// <summary>
/// Greedy (or seeded sampling) decoding with a key/value cache, honouring generation_config like transformers'
/// <c>generate</c>: eos / pad ids, decoder start token, forced BOS/EOS, bad words, min length, no-repeat n-grams,
/// repetition penalty. Decoder-only batches are left-padded, with positions counted from the first real token.
/// </summary>
public static class Generator
{
    /// <summary>
    /// Generates continuations. Returns the new ids of each row (up to and including an eos token; without the
    /// prompt or decoder start token).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="config">The checkpoint's generation configuration.</param>
    /// <param name="prompts">Token ids of each prompt (decoder-only) or source text (encoder-decoder).</param>
    /// <param name="options">Per-call options.</param>
    /// <param name="cancellationToken">Stops between tokens.</param>
    public static IReadOnlyList<int[]> Generate(
        TransformerLanguageModel model,
        GenerationConfig config,
        IReadOnlyList<IReadOnlyList<int>> prompts,
        GenerationOptions? options = null,
        CancellationToken cancellationToken = default) => Generate(model, config, prompts, null, options, cancellationToken);

    /// <summary>
    /// Generates continuations of encoder-decoder <paramref name="decoderPrefixes"/> (transformers'
    /// <c>decoder_input_ids</c>: one row per source, all of one length, decoder start token included); returns the
    /// new ids after each prefix. <c>max_new_tokens</c> counts from the end of the prefix. Null prefixes: as
    /// <see cref="Generate(TransformerLanguageModel, GenerationConfig, IReadOnlyList{IReadOnlyList{int}}, GenerationOptions?, CancellationToken)"/>.
    /// </summary>
    /// <param name="model">The model (encoder-decoder when prefixes are given).</param>
    /// <param name="config">The checkpoint's generation configuration.</param>
    /// <param name="prompts">Token ids of each source text.</param>
    /// <param name="decoderPrefixes">Decoder ids each row starts from, or null.</param>
    /// <param name="options">Per-call options.</param>
    /// <param name="cancellationToken">Stops between tokens.</param>
    /// <exception cref="InvalidRequestException">Prefixes for a decoder-only model, of unequal lengths or with beam
    /// search.</exception>
    public static IReadOnlyList<int[]> Generate(
        TransformerLanguageModel model,
        GenerationConfig config,
        IReadOnlyList<IReadOnlyList<int>> prompts,
        IReadOnlyList<IReadOnlyList<int>>? decoderPrefixes,
        GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        options ??= new GenerationOptions();
        if (prompts.Count == 0)
        {
            return [];
        }

        if (decoderPrefixes is not null)
        {
            if (!model.IsEncoderDecoder)
            {
                throw new InvalidRequestException("Decoder prefixes apply to encoder-decoder models only; put the prefix in the prompt of a decoder-only model.");
            }

            if (decoderPrefixes.Count != prompts.Count || decoderPrefixes.Any(p => p.Count == 0 || p.Count != decoderPrefixes[0].Count))
            {
                throw new InvalidRequestException("Give one non-empty decoder prefix per source, all padded to one length.");
            }
        }

        if (prompts.Any(p => p.Count == 0))
        {
            throw new InvalidInputException("Cannot generate from an empty prompt: every input needs at least one token.");
        }

        int batch = prompts.Count;
        int maxPrompt = prompts.Max(p => p.Count);
        int maxNew = options.MaxNewTokens ?? config.MaxNewTokens ?? Math.Max(0, config.MaxLength - (model.IsEncoderDecoder ? decoderPrefixes?[0].Count ?? 1 : maxPrompt));
        if (maxNew < 0)
        {
            throw new InvalidRequestException($"max_new_tokens must be >= 0 (got {maxNew}).");
        }

        if (model.Config.MaxPositions is int maxPositions)
        {
            // Never run past the position table: a default max_length (e.g. Marian's 512) may exceed it.
            int used = model.IsEncoderDecoder ? decoderPrefixes?[0].Count ?? 1 : maxPrompt;
            if (used > maxPositions)
            {
                throw new InvalidInputException($"The prompt has {used} tokens but {model.Config.ModelClass} accepts at most {maxPositions} positions. Shorten the text.");
            }

            maxNew = Math.Min(maxNew, maxPositions - used);
        }

        config = config with
        {
            RepetitionPenalty = options.RepetitionPenalty ?? config.RepetitionPenalty,
            NoRepeatNgramSize = options.NoRepeatNgramSize ?? config.NoRepeatNgramSize,
            NumBeams = options.NumBeams ?? config.NumBeams,
            LengthPenalty = options.LengthPenalty ?? config.LengthPenalty,
        };
        bool sample = options.DoSample ?? config.DoSample;
        if (config.NumBeams > 1)
        {
            if (sample)
            {
                throw new InvalidRequestException($"do_sample with num_beams={config.NumBeams} (beam sampling) is not supported natively; set do_sample=False for beam search, or num_beams=1 for sampling.");
            }

            if (config.NumBeamGroups > 1)
            {
                throw new InvalidRequestException($"num_beam_groups={config.NumBeamGroups} (diverse beam search) is not supported natively; set num_beam_groups=1, or use --backend python.");
            }

            if (decoderPrefixes is not null)
            {
                throw new InvalidRequestException($"Generating from a target prefix with num_beams={config.NumBeams} is not supported natively; set num_beams=1, or use --backend python.");
            }

            return BeamSearch.Generate(model, config, prompts, maxNew, cancellationToken);
        }

        if (config.NumBeams < 1)
        {
            throw new InvalidRequestException($"num_beams must be at least 1 (got {config.NumBeams}).");
        }

        var eos = new HashSet<int>(config.EosTokenIds);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var batchState = DecodingBatch.Start(model, config, prompts, decoderPrefixes);
        var sampler = sample ? new SeededSampler(options.Seed) : null;
        List<long>[] sequences = batchState.Sequences;
        int promptLength = sequences[0].Count;
        int maxLength = promptLength + maxNew;
        var finished = new bool[batch];
        for (int step = 0; step < maxNew; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var stepScope = torch.NewDisposeScope();
            using Tensor logits = batchState.NextLogits();
            float[] scores = logits.data<float>().ToArray();
            int vocab = (int)logits.shape[1];
            int curLength = sequences[0].Count;
            var next = new long[batch];
            for (int b = 0; b < batch; b++)
            {
                if (finished[b])
                {
                    next[b] = batchState.PadId;
                    continue;
                }

                Span<float> row = scores.AsSpan(b * vocab, vocab);
                LogitsProcessors.Apply(row, sequences[b], curLength, maxLength, config, eos);
                next[b] = sample
                    ? sampler!.Sample(row, options.Temperature ?? config.Temperature, options.TopK ?? config.TopK, options.TopP ?? config.TopP)
                    : ArgMax(row);
            }

            for (int b = 0; b < batch; b++)
            {
                sequences[b].Add(next[b]);
                if (!finished[b] && eos.Contains((int)next[b]))
                {
                    finished[b] = true;
                }
            }

            batchState.Advance(next, rows: null);
            if (finished.All(f => f))
            {
                break;
            }
        }

        var result = new int[batch][];
        for (int b = 0; b < batch; b++)
        {
            var generated = new List<int>();
            for (int i = promptLength; i < sequences[b].Count; i++)
            {
                generated.Add((int)sequences[b][i]);
                if (eos.Contains((int)sequences[b][i]))
                {
                    break;
                }
            }

            result[b] = [.. generated];
        }

        return result;
    }

    private static long ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Seeded sampler (temperature, top-k, top-p), independent of any global random state.</summary>
    private sealed class SeededSampler(long seed)
    {
        private readonly Random _random = new((int)(seed ^ (seed >> 32)));

        public long Sample(Span<float> logits, double temperature, int topK, double topP)
        {
            int n = logits.Length;
            var order = new int[n];
            for (int i = 0; i < n; i++)
            {
                order[i] = i;
                logits[i] = (float)(logits[i] / Math.Max(temperature, 1e-6));
            }

            float[] copy = logits.ToArray();
            Array.Sort(order, (a, b) => copy[b].CompareTo(copy[a]));
            int keep = topK > 0 ? Math.Min(topK, n) : n;
            double max = copy[order[0]];
            var probs = new double[keep];
            double total = 0;
            for (int i = 0; i < keep; i++)
            {
                probs[i] = float.IsNegativeInfinity(copy[order[i]]) ? 0 : Math.Exp(copy[order[i]] - max);
                total += probs[i];
            }

            double cumulative = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probs[i] / total;
                if (cumulative >= topP)
                {
                    cut = i + 1;
                    break;
                }
            }

            double mass = 0;
            for (int i = 0; i < cut; i++)
            {
                mass += probs[i];
            }

            double u = _random.NextDouble() * mass;
            for (int i = 0; i < cut; i++)
            {
                u -= probs[i];
                if (u <= 0)
                {
                    return order[i];
                }
            }

            return order[cut - 1];
        }
    }
}
