using System.Text.Json.Serialization;
using InseqBridge.Data;
using InseqBridge.Errors;
using Parquet.Serialization;

namespace InseqBridge.Cli.Datasets;

/// <summary>
/// One cell of an attribution in long format: how much source (or target-prefix) token
/// <see cref="SourcePosition"/> contributed to generating target token <see cref="TargetPosition"/>; or, with
/// <see cref="SourcePosition"/> null, a step score of that target token.
/// </summary>
public sealed class AttributionParquetRow
{
    /// <summary>Example number in the dataset (1-based).</summary>
    [JsonPropertyName("example")]
    public int Example { get; set; }

    /// <summary>Line of the dataset file.</summary>
    [JsonPropertyName("line")]
    public int Line { get; set; }

    /// <summary>Position of the generated token in the target sequence.</summary>
    [JsonPropertyName("target_position")]
    public int TargetPosition { get; set; }

    /// <summary>The generated token.</summary>
    [JsonPropertyName("target_token")]
    public string TargetToken { get; set; } = string.Empty;

    /// <summary>Position of the attributed token (in the source for <c>kind = source</c>, in the target prefix for
    /// <c>kind = target</c>); null for step scores.</summary>
    [JsonPropertyName("source_position")]
    public int? SourcePosition { get; set; }

    /// <summary>The attributed token; null for step scores.</summary>
    [JsonPropertyName("source_token")]
    public string? SourceToken { get; set; }

    /// <summary>The value.</summary>
    [JsonPropertyName("score")]
    public float Score { get; set; }

    /// <summary><c>source</c> (source attribution), <c>target</c> (target-prefix attribution), or
    /// <c>step_score:ID</c> (a step score such as <c>step_score:probability</c>).</summary>
    [JsonPropertyName("kind")]
    public string Kind { get; set; } = string.Empty;
}

/// <summary>Writes and reads attributions as Parquet in long format (<see cref="AttributionParquetRow"/>), a table
/// pandas, Spark and DuckDB load directly.</summary>
public static class AttributionParquet
{
    /// <summary>The long-format rows of one dataset example (its attributions must be aggregated to
    /// [positions, steps]). NaN cells (positions not generated yet) are left out.</summary>
    /// <exception cref="InvalidInputException">An attribution keeps extra dimensions.</exception>
    public static List<AttributionParquetRow> Rows(FeatureAttributionOutput output, int example, int line)
    {
        ArgumentNullException.ThrowIfNull(output);
        var rows = new List<AttributionParquetRow>();
        foreach (FeatureAttributionSequenceOutput sequence in output.SequenceAttributions)
        {
            AddCells(rows, sequence, sequence.SourceAttributions, sequence.Source, "source", example, line);
            AddCells(rows, sequence, sequence.TargetAttributions, sequence.Target, "target", example, line);
            foreach (var (id, scores) in sequence.StepScores.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                for (int step = 0; step < scores.Length; step++)
                {
                    int position = sequence.AttrPosStart + step;
                    if (!float.IsNaN(scores[step]) && position < sequence.Target.Count)
                    {
                        rows.Add(new AttributionParquetRow
                        {
                            Example = example,
                            Line = line,
                            TargetPosition = position,
                            TargetToken = sequence.Target[position].Token,
                            Score = scores[step],
                            Kind = "step_score:" + id,
                        });
                    }
                }
            }
        }

        return rows;
    }

    /// <summary>The Parquet file of <paramref name="rows"/>.</summary>
    public static byte[] Serialize(IEnumerable<AttributionParquetRow> rows)
    {
        using var stream = new MemoryStream();
        ParquetSerializer.SerializeAsync(rows, stream).GetAwaiter().GetResult();
        return stream.ToArray();
    }

    /// <summary>Reads a Parquet file written by <see cref="Serialize"/>.</summary>
    public static IList<AttributionParquetRow> Read(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return ParquetSerializer.DeserializeAsync<AttributionParquetRow>(stream).GetAwaiter().GetResult().Data;
    }

    private static void AddCells(
        List<AttributionParquetRow> rows, FeatureAttributionSequenceOutput sequence, NdArray? scores, IReadOnlyList<TokenWithId> tokens, string kind, int example, int line)
    {
        if (scores is null)
        {
            return;
        }

        if (scores.Rank != 2)
        {
            throw new InvalidInputException(
                $"Parquet holds one score per (source token, target token); this attribution has {scores.Rank} dimensions: aggregate it (--aggregate, or --aggregator).");
        }

        for (int i = 0; i < scores.Shape[0]; i++)
        {
            for (int step = 0; step < scores.Shape[1]; step++)
            {
                float value = scores[i, step];
                int position = sequence.AttrPosStart + step;
                if (float.IsNaN(value) || position >= sequence.Target.Count)
                {
                    continue;
                }

                rows.Add(new AttributionParquetRow
                {
                    Example = example,
                    Line = line,
                    TargetPosition = position,
                    TargetToken = sequence.Target[position].Token,
                    SourcePosition = i,
                    SourceToken = i < tokens.Count ? tokens[i].Token : null,
                    Score = value,
                    Kind = kind,
                });
            }
        }
    }
}
