using InseqBridge.Attribution;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// Value zeroing scores of one attention site (Inseq 0.6's <c>compute_modules_post_zeroing_similarity</c>).
/// Inseq zeroes token t in every layer at once and patches each block's input back to the clean hidden state, so the
/// corrupted output of block l is block l applied to its clean input with token t's values zeroed. The native engine
/// gets the same state without patching hooks: a forward that zeroes token t in layer l only leaves the layers below
/// clean, so its hidden state l+1 is that corrupted output (the last one after the final norm, as Inseq reads it from
/// the model output). Every (token, layer) pair is one row of a batched forward.
/// </summary>
internal static class ValueZeroingAttributor
{
    /// <summary>Scores below this become 0 (Inseq's <c>min_score_threshold</c>).</summary>
    private const float MinScoreThreshold = 1e-5f;

    /// <summary>Hidden-state rows (copies x batch x positions) per forward pass, roughly.</summary>
    private const int RowBudget = 8192;

    /// <summary>Runs the model on the batch tiled <c>repeat</c> times (copy-major rows) and returns its hidden states
    /// (embedding output and every layer's output).</summary>
    public delegate IReadOnlyList<Tensor> TiledForward(ForwardOptions options, int repeat);

    /// <summary>
    /// Returns [batch, zeroed tokens, positions, layers] float32 scores: 1 - cos(clean, corrupted), NaN where
    /// <paramref name="causal"/> excludes a position before the zeroed token, thresholded and normalised per position.
    /// </summary>
    /// <param name="forward">The tiled forward.</param>
    /// <param name="clean">Clean hidden states (layers + 1 entries, each [batch, positions, hidden]).</param>
    /// <param name="site">The attention blocks whose values are zeroed.</param>
    /// <param name="zeroedTokens">Number of key positions to zero one at a time.</param>
    /// <param name="selection">Zeroed heads (null: all heads of every layer).</param>
    /// <param name="causal">Only positions at or after the zeroed token get a score (decoder self-attention).</param>
    public static Tensor Scores(
        TiledForward forward, IReadOnlyList<Tensor> clean, AttentionSite site, int zeroedTokens, HeadSelection? selection, bool causal)
    {
        using var noGrad = torch.no_grad();
        int layers = clean.Count - 1;
        long batch = clean[0].shape[0];
        int positions = (int)clean[0].shape[1];
        bool Zeroed(int layer) => selection?.PerLayer is null || selection.PerLayer.ContainsKey(layer);

        // all[b, l, g, t] as Inseq builds it.
        var all = new float[batch * layers * positions * zeroedTokens];
        Array.Fill(all, float.NaN);
        int Index(long b, int l, int g, int t) => (int)((((((b * layers) + l) * positions) + g) * zeroedTokens) + t);
        void Set(long b, int l, int g, int t, float value)
        {
            if (!causal || g >= t)
            {
                all[Index(b, l, g, t)] = value;
            }
        }

        var copies = new List<(int Token, int Layer)>();
        for (int t = 0; t < zeroedTokens; t++)
        {
            for (int l = 0; l < layers; l++)
            {
                if (Zeroed(l))
                {
                    copies.Add((t, l));
                }
                else
                {
                    // Inseq compares a recomputed clean state with itself: 1 - cos ~ 1e-7, below the threshold.
                    for (long b = 0; b < batch; b++)
                    {
                        for (int g = 0; g < positions; g++)
                        {
                            Set(b, l, g, t, 0f);
                        }
                    }
                }
            }
        }

        int perForward = (int)Math.Max(1, RowBudget / Math.Max(1, batch * positions));
        for (int first = 0; first < copies.Count; first += perForward)
        {
            using var scope = torch.NewDisposeScope();
            var chunk = copies.Skip(first).Take(perForward).ToList();
            var masks = new Dictionary<int, Tensor>();
            Tensor Hook(AttentionSite s, int layer, Tensor values)
            {
                if (s != site || !Zeroed(layer))
                {
                    return values;
                }

                if (!masks.TryGetValue(layer, out Tensor? mask))
                {
                    int heads = (int)values.shape[1];
                    long keys = values.shape[2];
                    IReadOnlyList<int> zeroedHeads = selection is null ? Enumerable.Range(0, heads).ToList() : selection.ForLayer(layer, heads)!;
                    var data = new float[values.shape[0] * heads * keys];
                    Array.Fill(data, 1f);
                    for (int c = 0; c < chunk.Count; c++)
                    {
                        if (chunk[c].Layer != layer)
                        {
                            continue;
                        }

                        for (long b = 0; b < batch; b++)
                        {
                            long row = (c * batch) + b;
                            foreach (int h in zeroedHeads)
                            {
                                data[(((row * heads) + h) * keys) + chunk[c].Token] = 0f;
                            }
                        }
                    }

                    mask = torch.tensor(data, [values.shape[0], heads, keys, 1], device: values.device).to(values.dtype);
                    masks[layer] = mask;
                }

                return values * mask;
            }

            IReadOnlyList<Tensor> hidden = forward(new ForwardOptions { OutputHiddenStates = true, ValueHook = Hook }, chunk.Count);
            for (int l = 0; l < layers; l++)
            {
                int[] members = Enumerable.Range(0, chunk.Count).Where(c => chunk[c].Layer == l).ToArray();
                if (members.Length == 0)
                {
                    continue;
                }

                long[] rows = members.SelectMany(c => Enumerable.Range(0, (int)batch).Select(b => (c * batch) + b)).ToArray();
                Tensor corrupted = hidden[l + 1].index_select(0, torch.tensor(rows, device: hidden[l + 1].device)).to(ScalarType.Float32);
                Tensor reference = clean[l + 1].to(ScalarType.Float32).repeat(members.Length, 1, 1);
                Tensor distance = nn.functional.cosine_similarity(reference, corrupted, dim: -1).SubtractedFrom(1.0);
                float[] values = distance.cpu().contiguous().data<float>().ToArray();
                for (int m = 0; m < members.Length; m++)
                {
                    int t = chunk[members[m]].Token;
                    for (long b = 0; b < batch; b++)
                    {
                        for (int g = 0; g < positions; g++)
                        {
                            Set(b, l, g, t, values[(((m * batch) + b) * positions) + g]);
                        }
                    }
                }
            }
        }

        // Threshold, then normalise over the zeroed tokens of each (batch, layer, position); zero sums divide by 1.
        var output = new float[batch * zeroedTokens * positions * layers];
        for (long b = 0; b < batch; b++)
        {
            for (int l = 0; l < layers; l++)
            {
                for (int g = 0; g < positions; g++)
                {
                    float sum = 0f;
                    for (int t = 0; t < zeroedTokens; t++)
                    {
                        int i = Index(b, l, g, t);
                        if (all[i] < MinScoreThreshold)
                        {
                            all[i] = 0f;
                        }

                        if (!float.IsNaN(all[i]))
                        {
                            sum += all[i];
                        }
                    }

                    if (sum == 0f)
                    {
                        sum = 1f;
                    }

                    for (int t = 0; t < zeroedTokens; t++)
                    {
                        output[(((((b * zeroedTokens) + t) * positions) + g) * layers) + l] = all[Index(b, l, g, t)] / sum;
                    }
                }
            }
        }

        return torch.tensor(output, [batch, zeroedTokens, positions, layers]);
    }
}
