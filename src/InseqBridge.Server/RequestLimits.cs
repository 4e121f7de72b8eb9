using System.Globalization;
using InseqBridge.Attribution;
using InseqBridge.Native.Attribution;

namespace InseqBridge.Server;

/// <summary>Checks one attribution call against the server's <see cref="ServerLimits"/> before it is queued.</summary>
public static class RequestLimits
{
    /// <summary>Throws a 400 problem naming the first limit <paramref name="call"/> exceeds.</summary>
    /// <exception cref="ProblemException">A limit is exceeded.</exception>
    public static void Check(ServerLimits limits, AttributeCall call, IAttributionModel model)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(model);
        if (call.InputTexts.Count > limits.MaxBatchSize)
        {
            throw ProblemException.LimitExceeded("max_batch_size", limits.MaxBatchSize, call.InputTexts.Count,
                $"{call.InputTexts.Count} input texts in one request; the server accepts at most {limits.MaxBatchSize}: split the request.");
        }

        if (call.BatchSize is int batch && batch > limits.MaxBatchSize)
        {
            throw ProblemException.LimitExceeded("max_batch_size", limits.MaxBatchSize, batch,
                $"batch_size {batch} exceeds the server's max_batch_size {limits.MaxBatchSize}.");
        }

        if (call.MaxNewTokens is int n && n > limits.MaxNewTokens)
        {
            throw ProblemException.LimitExceeded("max_new_tokens", limits.MaxNewTokens, n,
                $"max_new_tokens {n} exceeds the server's limit {limits.MaxNewTokens}.");
        }

        foreach (string key in new[] { "n_steps", "n_samples" })
        {
            if (call.AttributionArgs.TryGetValue(key, out string? text)
                && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long steps) && steps > limits.MaxSteps)
            {
                throw ProblemException.LimitExceeded("max_n_steps", limits.MaxSteps, steps,
                    $"attribution_args.{key} {steps} exceeds the server's max_n_steps {limits.MaxSteps}.");
            }
        }

        IEnumerable<string> texts = call.InputTexts
            .Concat(call.GeneratedTexts ?? []).Concat(call.ContrastTargets ?? []).Concat(call.ContrastSources ?? []);
        foreach (string text in texts)
        {
            long tokens = CountTokens(model, text, limits.MaxInputTokens);
            if (tokens > limits.MaxInputTokens)
            {
                throw ProblemException.LimitExceeded("max_input_tokens", limits.MaxInputTokens, tokens,
                    $"A text of {tokens} tokens exceeds the server's max_input_tokens {limits.MaxInputTokens}: shorten it.");
            }
        }
    }

    private static long CountTokens(IAttributionModel model, string text, int limit)
    {
        // Far beyond any tokenizer's ratio: refuse without tokenizing a huge text.
        if (text.Length > (long)limit * 64)
        {
            return text.Length;
        }

        return model is NativeAttributionModel native
            ? native.Tokenizer.Encode(text).Count
            : text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
    }
}
