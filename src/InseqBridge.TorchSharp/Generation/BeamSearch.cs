using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Generation;

/// <summary>
/// Beam search as transformers runs it (<c>num_beams</c> &gt; 1, no sampling): every beam's log-softmax scores go
/// through the logits processors, the beam's running score is added, the best <c>max(2, 1 + #eos) * num_beams</c>
/// continuations of each input are ranked, continuations ending in EOS among the top <c>num_beams</c> become finished
/// hypotheses scored by <c>sum_logprobs / generated_length ** length_penalty</c>, the others continue; an input is done
/// when <c>num_beams</c> hypotheses are kept and (with <c>early_stopping</c> False) no open beam can still beat the
/// worst of them. At the length limit the open beams join the hypotheses; the best hypothesis is returned, followed by
/// the first EOS id when it ended early (as transformers' <c>finalize</c> writes it).
/// </summary>
internal static class BeamSearch
{
    public static IReadOnlyList<int[]> Generate(
        TransformerLanguageModel model, GenerationConfig config, IReadOnlyList<IReadOnlyList<int>> prompts, int maxNew, CancellationToken cancellationToken)
    {
        int beams = config.NumBeams;
        int batch = prompts.Count;
        var eosIds = config.EosTokenIds;
        var eos = new HashSet<int>(eosIds);
        var expanded = new List<IReadOnlyList<int>>(batch * beams);
        foreach (IReadOnlyList<int> prompt in prompts)
        {
            for (int k = 0; k < beams; k++)
            {
                expanded.Add(prompt);
            }
        }

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using DecodingBatch rows = DecodingBatch.Start(model, config, expanded);
        int promptLength = rows.Sequences[0].Count;
        int maxLength = promptLength + maxNew;
        var beamScores = new float[batch * beams];
        for (int b = 0; b < batch; b++)
        {
            for (int k = 1; k < beams; k++)
            {
                beamScores[(b * beams) + k] = -1e9f;
            }
        }

        var hypotheses = new Hypotheses[batch];
        for (int b = 0; b < batch; b++)
        {
            hypotheses[b] = new Hypotheses(beams, config.LengthPenalty, config.EarlyStopping, maxNew);
        }

        var done = new bool[batch];
        int candidatesPerInput = Math.Max(2, 1 + eosIds.Count) * beams;
        while (rows.Sequences[0].Count < maxLength && !done.All(d => d))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var stepScope = torch.NewDisposeScope();
            float[] logProbs;
            int vocab;
            using (Tensor logits = rows.NextLogits())
            using (Tensor normalized = logits.log_softmax(-1))
            {
                logProbs = normalized.data<float>().ToArray();
                vocab = (int)logits.shape[1];
            }

            int curLength = rows.Sequences[0].Count;
            for (int row = 0; row < batch * beams; row++)
            {
                Span<float> scores = logProbs.AsSpan(row * vocab, vocab);
                LogitsProcessors.Apply(scores, rows.Sequences[row], curLength, maxLength, config, eos);
                float running = beamScores[row];
                for (int v = 0; v < vocab; v++)
                {
                    scores[v] += running;
                }
            }

            var nextTokens = new long[batch * beams];
            var sourceRows = new long[batch * beams];
            var nextScores = new float[batch * beams];
            for (int b = 0; b < batch; b++)
            {
                if (done[b])
                {
                    // transformers pads finished inputs and points them at row 0; their values are never read.
                    Array.Fill(nextTokens, rows.PadId, b * beams, beams);
                    continue;
                }

                (float Score, int Index)[] ranked = TopK(logProbs.AsSpan(b * beams * vocab, beams * vocab), candidatesPerInput);
                int kept = 0;
                for (int rank = 0; rank < ranked.Length && kept < beams; rank++)
                {
                    int beam = ranked[rank].Index / vocab;
                    int token = ranked[rank].Index % vocab;
                    int sourceRow = (b * beams) + beam;
                    if (eos.Contains(token))
                    {
                        if (rank >= beams)
                        {
                            continue;
                        }

                        hypotheses[b].Add(rows.Sequences[sourceRow], ranked[rank].Score, curLength + 1 - promptLength);
                    }
                    else
                    {
                        nextScores[(b * beams) + kept] = ranked[rank].Score;
                        nextTokens[(b * beams) + kept] = token;
                        sourceRows[(b * beams) + kept] = sourceRow;
                        kept++;
                    }
                }

                done[b] = hypotheses[b].IsDone(ranked[0].Score, curLength + 1 - promptLength);
            }

            var reordered = new List<long>[batch * beams];
            for (int row = 0; row < reordered.Length; row++)
            {
                reordered[row] = [.. rows.Sequences[sourceRows[row]], nextTokens[row]];
            }

            rows.Sequences = reordered;
            beamScores = nextScores;
            rows.Advance(nextTokens, sourceRows);
        }

        var result = new int[batch][];
        for (int b = 0; b < batch; b++)
        {
            if (!done[b])
            {
                for (int k = 0; k < beams; k++)
                {
                    int row = (b * beams) + k;
                    hypotheses[b].Add(rows.Sequences[row], beamScores[row], rows.Sequences[row].Count - promptLength);
                }
            }

            List<long> best = hypotheses[b].Best();
            var generated = best.Skip(promptLength).Select(id => (int)id).ToList();
            if (best.Count < maxLength && eosIds.Count > 0)
            {
                generated.Add(eosIds[0]);
            }

            result[b] = [.. generated];
        }

        return result;
    }

    /// <summary>The <paramref name="k"/> largest scores with their flat indexes, best first (ties: lower index
    /// first).</summary>
    private static (float Score, int Index)[] TopK(ReadOnlySpan<float> scores, int k)
    {
        k = Math.Min(k, scores.Length);
        var best = new (float Score, int Index)[k];
        int count = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            float s = scores[i];
            if (count == k && !(s > best[k - 1].Score))
            {
                continue;
            }

            int position = count < k ? count++ : k - 1;
            while (position > 0 && s > best[position - 1].Score)
            {
                best[position] = best[position - 1];
                position--;
            }

            best[position] = (s, i);
        }

        return best;
    }

    /// <summary>The finished hypotheses of one input (transformers' <c>BeamHypotheses</c>).</summary>
    private sealed class Hypotheses(int size, double lengthPenalty, BeamStopping stopping, int maxGenerated)
    {
        private readonly List<(double Score, List<long> Tokens)> _beams = [];
        private double _worst = 1e9;

        public void Add(List<long> tokens, float sumLogProbs, int generatedLength)
        {
            double score = sumLogProbs / Math.Pow(generatedLength, lengthPenalty);
            if (_beams.Count < size || score > _worst)
            {
                _beams.Add((score, tokens));
                if (_beams.Count > size)
                {
                    int worstIndex = 0;
                    for (int i = 1; i < _beams.Count; i++)
                    {
                        if (_beams[i].Score < _beams[worstIndex].Score)
                        {
                            worstIndex = i;
                        }
                    }

                    _beams.RemoveAt(worstIndex);
                    _worst = _beams.Min(h => h.Score);
                }
                else
                {
                    _worst = Math.Min(score, _worst);
                }
            }
        }

        public bool IsDone(float bestSumLogProbs, int generatedLength)
        {
            if (_beams.Count < size)
            {
                return false;
            }

            double highest = stopping switch
            {
                BeamStopping.Early => double.PositiveInfinity,
                BeamStopping.Never when lengthPenalty > 0 => bestSumLogProbs / Math.Pow(maxGenerated, lengthPenalty),
                _ => bestSumLogProbs / Math.Pow(generatedLength, lengthPenalty),
            };
            return stopping == BeamStopping.Early || _worst >= highest;
        }

        public List<long> Best()
        {
            // Python's sorted() is stable and pop() takes the last: among equal scores the latest added wins.
            int best = 0;
            for (int i = 1; i < _beams.Count; i++)
            {
                if (_beams[i].Score >= _beams[best].Score)
                {
                    best = i;
                }
            }

            return _beams[best].Tokens;
        }
    }
}
