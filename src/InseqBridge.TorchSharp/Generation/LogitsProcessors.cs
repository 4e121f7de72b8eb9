using InseqBridge.Native.Checkpoints;

namespace InseqBridge.Native.Generation;

/// <summary>
/// transformers' logits processors for the settings generation_config carries, applied in the same order:
/// repetition penalty, no-repeat n-grams, bad words, min length, forced BOS, forced EOS.
/// </summary>
internal static class LogitsProcessors
{
    public static void Apply(Span<float> scores, IReadOnlyList<long> sequence, int curLength, int maxLength, GenerationConfig config, HashSet<int> eos)
    {
        if (config.RepetitionPenalty != 1.0)
        {
            foreach (long id in sequence.Distinct())
            {
                float s = scores[(int)id];
                scores[(int)id] = s < 0 ? (float)(s * config.RepetitionPenalty) : (float)(s / config.RepetitionPenalty);
            }
        }

        int n = config.NoRepeatNgramSize;
        if (n > 0 && curLength + 1 >= n)
        {
            int prefixStart = curLength - n + 1;
            for (int start = 0; start + n <= curLength; start++)
            {
                bool match = true;
                for (int j = 0; j < n - 1 && match; j++)
                {
                    match = sequence[start + j] == sequence[prefixStart + j];
                }

                if (match)
                {
                    scores[(int)sequence[start + n - 1]] = float.NegativeInfinity;
                }
            }
        }

        foreach (IReadOnlyList<int> bad in config.BadWordsIds)
        {
            if (bad.Count == 0)
            {
                continue;
            }

            bool prefixMatches = bad.Count - 1 <= curLength;
            for (int j = 0; j < bad.Count - 1 && prefixMatches; j++)
            {
                prefixMatches = sequence[curLength - (bad.Count - 1) + j] == bad[j];
            }

            if (prefixMatches && bad[^1] < scores.Length)
            {
                scores[bad[^1]] = float.NegativeInfinity;
            }
        }

        if (curLength < config.MinLength)
        {
            foreach (int e in eos)
            {
                scores[e] = float.NegativeInfinity;
            }
        }

        if (curLength == 1 && config.ForcedBosTokenId is int bos)
        {
            Force(scores, bos);
        }

        if (curLength == maxLength - 1 && config.ForcedEosTokenId is int forcedEos)
        {
            Force(scores, forcedEos);
        }
    }

    private static void Force(Span<float> scores, int id)
    {
        scores.Fill(float.NegativeInfinity);
        scores[id] = 0;
    }
}
