using System.Text.Json.Nodes;

namespace InseqBridge.Data;

/// <summary>Concatenates several <see cref="FeatureAttributionOutput"/>s the way Inseq's
/// <c>merge_attributions</c> does: the call-describing info fields must agree, texts are concatenated and
/// <c>attr_pos_end</c> becomes the maximum.</summary>
public static class AttributionOutputMerger
{
    /// <summary>Info fields that must be equal (or absent in all) for outputs to be merged.</summary>
    public static IReadOnlyList<string> MatchInfoFields { get; } =
    [
        "attribute_target", "attribution_method", "constrained_decoding", "include_eos_baseline",
        "model_class", "model_name", "step_scores", "tokenizer_class", "tokenizer_name",
    ];

    /// <summary>Merges <paramref name="outputs"/> in order.</summary>
    /// <exception cref="ArgumentException">No outputs, or an info field in <see cref="MatchInfoFields"/> differs.</exception>
    public static FeatureAttributionOutput Merge(IEnumerable<FeatureAttributionOutput> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var all = outputs.ToList();
        if (all.Count == 0)
        {
            throw new ArgumentException("Nothing to merge.", nameof(outputs));
        }

        FeatureAttributionOutput first = all[0];
        foreach (string field in MatchInfoFields)
        {
            bool present = first.Info.ContainsKey(field);
            foreach (FeatureAttributionOutput other in all)
            {
                bool same = present
                    ? other.Info.ContainsKey(field) && JsonNode.DeepEquals(other.Info[field], first.Info[field])
                    : !other.Info.ContainsKey(field);
                if (!same)
                {
                    throw new ArgumentException($"Cannot merge: incompatible values for info field '{field}'.", nameof(outputs));
                }
            }
        }

        var info = (JsonObject)first.Info.DeepClone();
        if (first.Info.ContainsKey("attr_pos_end"))
        {
            info["attr_pos_end"] = all.Max(o => long.Parse(o.Info["attr_pos_end"]?.ToJsonString() ?? "0", System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (string listField in new[] { "generated_texts", "input_texts" })
        {
            if (first.Info.ContainsKey(listField))
            {
                info[listField] = new JsonArray(all
                    .SelectMany(o => o.Info[listField] as JsonArray ?? [])
                    .Select(n => n?.DeepClone())
                    .ToArray());
            }
        }

        IReadOnlyList<FeatureAttributionStepOutput>? steps = first.StepAttributions is null
            ? null
            : all.SelectMany(o => o.StepAttributions ?? []).ToList();
        return new FeatureAttributionOutput
        {
            SequenceAttributions = all.SelectMany(o => o.SequenceAttributions).ToList(),
            Info = info,
            StepAttributions = steps,
        };
    }
}
