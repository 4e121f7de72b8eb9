using System.CommandLine;
using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Datasets;

namespace InseqBridge.Cli.Datasets;

/// <summary>
/// The settings of an <c>attribute-dataset</c> run that decide its results, as recorded in the output folder
/// (<see cref="DatasetRunRecord"/>): the model (folder name and SHA-256 of every file), the dataset (name, columns,
/// SHA-256), the method with its arguments, and every other attribution flag (step scores, attributed function,
/// positions, generation, mode, aggregation). Flags that do not change results (batch size, output, progress,
/// overwrite, shard) are not recorded.
/// </summary>
public static class DatasetRunSettings
{
    /// <summary>Builds the settings of this command line.</summary>
    public static JsonObject Create(
        ParseResult parseResult, AttributionOptions shared, AttributionMethod method, string modelDir, string datasetPath, string textColumn, string? generatedColumn)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        ArgumentNullException.ThrowIfNull(shared);
        ArgumentNullException.ThrowIfNull(method);
        var settings = new JsonObject
        {
            ["model"] = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir))),
            ["model_files"] = Directory.Exists(modelDir) ? DatasetRunRecord.HashFiles(modelDir) : null,
            ["dataset"] = new JsonObject
            {
                ["name"] = Path.GetFileName(datasetPath),
                ["sha256"] = File.Exists(datasetPath) ? DatasetRunRecord.HashFile(datasetPath) : null,
                ["text_column"] = textColumn,
                ["generated_column"] = generatedColumn,
            },
            ["method"] = method.Id,
            ["method_args"] = new JsonObject(method.Arguments
                .OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => KeyValuePair.Create(kv.Key, kv.Value is null ? null : JsonValue.Create(Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture))))
                .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        Option[] recordedElsewhere = [shared.Model, shared.Method, shared.NSteps, shared.InternalBatchSize, shared.MethodArgs, shared.BatchSize, shared.Overwrite];
        foreach (Option option in shared.All.Except(recordedElsewhere))
        {
            settings[option.Name.TrimStart('-')] = option switch
            {
                Option<string> text => parseResult.GetValue(text) is string value ? JsonValue.Create(value) : null,
                Option<int?> number => parseResult.GetValue(number) is int value ? JsonValue.Create(value) : null,
                Option<long> number => JsonValue.Create(parseResult.GetValue(number)),
                Option<bool> flag => JsonValue.Create(parseResult.GetValue(flag)),
                _ => null,
            };
        }

        return settings;
    }
}
