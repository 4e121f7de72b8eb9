using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Data;

namespace InseqBridge.Serialization;

/// <summary>
/// Reads and writes Inseq's JSON result files (<c>FeatureAttributionOutput.save</c> / <c>load</c>) from Inseq 0.6
/// and 0.7: plain or gzip-compressed, whole or split into one file per sequence. Files written with the same
/// options as Python are byte-identical to Python's.
/// </summary>
public static class InseqJson
{
    /// <summary>Loads a file; gzip-compressed files are detected by their magic bytes.</summary>
    /// <exception cref="InseqJsonException">The content is not a valid Inseq result.</exception>
    public static FeatureAttributionOutput Load(string path) => Load(path, InseqReadLimits.Default);

    /// <summary>Loads a file within <paramref name="limits"/> (nesting depth, file and text size, tensor size),
    /// checked before anything big is allocated or decompressed.</summary>
    /// <exception cref="InseqJsonException">The content is not a valid Inseq result or exceeds a limit.</exception>
    public static FeatureAttributionOutput Load(string path, InseqReadLimits limits)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        if (Directory.Exists(path))
        {
            throw new InseqJsonException(path, "$", "this is a folder, not an Inseq JSON file; pass the path of a .json file");
        }

        long length = new FileInfo(path).Exists ? new FileInfo(path).Length : 0;
        if (length > limits.MaxFileBytes)
        {
            throw new InseqJsonException(path, "$", $"the file has {length} bytes, more than the {limits.MaxFileBytes} allowed (InseqReadLimits.MaxFileBytes raises the limit)");
        }

        byte[] bytes = File.ReadAllBytes(path);
        return Parse(DecodeText(bytes, path, limits), path, limits);
    }

    /// <summary>Loads the files <c>&lt;stem&gt;_0.json</c>, <c>&lt;stem&gt;_1.json</c>, ... (or <c>.json.gz</c>)
    /// written with <see cref="SaveOptions.SplitSequences"/> for <paramref name="path"/>, and merges them.</summary>
    /// <exception cref="FileNotFoundException">No split file exists for the path.</exception>
    public static FeatureAttributionOutput LoadSplit(string path)
    {
        var parts = new List<FeatureAttributionOutput>();
        for (int i = 0; ; i++)
        {
            string plain = SplitPath(path, i, compress: false);
            string gz = SplitPath(path, i, compress: true);
            string? found = File.Exists(plain) ? plain : File.Exists(gz) ? gz : null;
            if (found is null)
            {
                break;
            }

            parts.Add(Load(found));
        }

        if (parts.Count == 0)
        {
            throw new FileNotFoundException($"No split files found for {path} (expected {SplitPath(path, 0, false)}).", path);
        }

        return AttributionOutputMerger.Merge(parts);
    }

    /// <summary>Parses JSON text. <paramref name="sourceName"/> appears in error messages.</summary>
    /// <exception cref="InseqJsonException">The text is not a valid Inseq result.</exception>
    public static FeatureAttributionOutput Parse(string json, string? sourceName = null) => Parse(json, sourceName, InseqReadLimits.Default);

    /// <summary>Parses JSON text within <paramref name="limits"/>. <paramref name="sourceName"/> appears in error messages.</summary>
    /// <exception cref="InseqJsonException">The text is not a valid Inseq result or exceeds a limit.</exception>
    public static FeatureAttributionOutput Parse(string json, string? sourceName, InseqReadLimits limits)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(limits);
        JsonNode? root = PythonJsonReader.Parse(json, sourceName, limits.MaxDepth);
        return InseqObjectMapper.ToOutput(root, sourceName, limits);
    }

    /// <summary>Serialises to the JSON text Inseq writes (whole output, uncompressed; <see cref="SaveOptions.Compress"/>
    /// only stops per-array gzip, as in Inseq, and <see cref="SaveOptions.SplitSequences"/> is ignored).</summary>
    public static string Serialize(FeatureAttributionOutput output, SaveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        options ??= SaveOptions.Default;
        return PythonJsonWriter.Write(InseqObjectMapper.FromOutput(output, options, dropStepAttributions: false));
    }

    /// <summary>Saves like Inseq's <c>FeatureAttributionOutput.save</c>.</summary>
    /// <returns>The paths written (several with <see cref="SaveOptions.SplitSequences"/>).</returns>
    /// <exception cref="OutputFileExistsException">A target file exists and <see cref="SaveOptions.Overwrite"/> is false.</exception>
    public static IReadOnlyList<string> Save(FeatureAttributionOutput output, string path, SaveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(path);
        options ??= SaveOptions.Default;

        // Inseq checks only the given path; split saves also check each part so nothing is silently replaced.
        var jobs = new List<(string Path, JsonObject Tree)>();
        if (options.SplitSequences)
        {
            for (int i = 0; i < output.SequenceAttributions.Count; i++)
            {
                var info = (JsonObject)output.Info.DeepClone();
                foreach (string field in new[] { "input_texts", "generated_texts" })
                {
                    if (info[field] is JsonArray texts && i < texts.Count)
                    {
                        info[field] = new JsonArray(texts[i]?.DeepClone());
                    }
                }

                var single = output with { SequenceAttributions = [output.SequenceAttributions[i]], Info = info, StepAttributions = null };
                jobs.Add((SplitPath(path, i, options.Compress), InseqObjectMapper.FromOutput(single, options, dropStepAttributions: true)));
            }
        }
        else
        {
            jobs.Add((path, InseqObjectMapper.FromOutput(output, options, dropStepAttributions: false)));
        }

        if (!options.Overwrite)
        {
            foreach (string p in jobs.Select(j => j.Path).Prepend(path).Distinct())
            {
                if (File.Exists(p) && (p == path ? !options.SplitSequences : true))
                {
                    throw new OutputFileExistsException(p);
                }
            }
        }

        foreach (var (p, _) in jobs)
        {
            if (Directory.Exists(p))
            {
                throw new IOException($"{p} is a folder; save to a file path (e.g. {Path.Combine(p, "out.json")}).");
            }
        }

        foreach (var (p, tree) in jobs)
        {
            // Like the HTML and CSV exports, a missing folder is created.
            string? folder = Path.GetDirectoryName(Path.GetFullPath(p));
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            byte[] bytes = Encoding.UTF8.GetBytes(PythonJsonWriter.Write(tree));
            if (options.Compress)
            {
                // Inseq gzips whole files at level 5.
                bytes = PythonGzip.Compress(bytes, 5);
            }

            File.WriteAllBytes(p, bytes);
        }

        return jobs.Select(j => j.Path).ToList();
    }

    /// <summary>The file name Inseq uses for sequence <paramref name="index"/> of a split save.</summary>
    public static string SplitPath(string path, int index, bool compress)
    {
        ArgumentNullException.ThrowIfNull(path);

        // Inseq cuts at the first ".json" and appends _i.json[.gz].
        int cut = path.IndexOf(".json", StringComparison.Ordinal);
        string stem = cut >= 0 ? path[..cut] : path;
        return $"{stem}_{index}.json{(compress ? ".gz" : string.Empty)}";
    }

    private static string DecodeText(byte[] bytes, string path, InseqReadLimits limits)
    {
        if (PythonGzip.HasMagic(bytes))
        {
            long cap = Math.Min(limits.MaxTextBytes, Array.MaxLength);
            try
            {
                bytes = PythonGzip.Decompress(bytes, cap)
                    ?? throw new InseqJsonException(path, "$", $"the file decompresses to more than {cap} bytes (InseqReadLimits.MaxTextBytes raises the limit)");
            }
            catch (InvalidDataException e)
            {
                throw new InseqJsonException(path, "$", "corrupt gzip data", e);
            }
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InseqJsonException(path, "$", "the file is not UTF-8 text", e);
        }
    }
}
