using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Serialization;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>The Inseq 0.7 attribute options and the aggregator arguments on the command line, against the Inseq 0.6
/// references of tests/fixtures/attribute-options.</summary>
public sealed class AttributeOptionsCliTests
{
    private static string Dir => Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "attribute-options");

    [Fact]
    public void Generate_from_target_prefix_flag_reproduces_inseq()
    {
        using JsonDocument manifest = Fixtures.Json(Path.Combine(Dir, "prefix_manifest.json"));
        JsonElement c = manifest.RootElement[0];
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("marian"), "--method", "saliency", "--tokenizer", "slow",
            "--input", c.GetProperty("input_texts")[0].GetString()!, "--generated", c.GetProperty("prefixes")[0].GetString()!,
            "--generate-from-target-prefix", "--max-new-tokens", "5", "--save", folder.File("out.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        FeatureAttributionOutput output = InseqJson.Load(folder.File("out.json"));
        Assert.Equal(c.GetProperty("generated_texts")[0].GetString(), output.Info["generated_texts"]![0]!.GetValue<string>());
    }

    [Fact]
    public void Clean_special_chars_and_skip_special_tokens_flags_reach_the_output()
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("marian"), "--method", "saliency", "--tokenizer", "slow",
            "--input", "The cursor moves to the line.", "--generated", "Le curseur se déplace sur la ligne.",
            "--clean-special-chars", "--skip-special-tokens", "--save", folder.File("out.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        FeatureAttributionSequenceOutput sequence = InseqJson.Load(folder.File("out.json")).SequenceAttributions[0];
        Assert.Equal(["The", "cursor", "move", "s", "to", "the", "line", "."], sequence.Source.Select(t => t.Token));
        Assert.DoesNotContain(sequence.Target, t => t.Token == "</s>");
    }

    [Fact]
    public void Aggregator_args_build_the_spans_pipeline_inseq_computes()
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("marian"), "--method", "saliency", "--tokenizer", "slow",
            "--input", "The cursor moves to the line.", "--generated", "Le curseur se déplace sur la ligne.", "--attribute-target",
            "--step-scores", "probability", "--aggregator", "scores,spans",
            "--aggregator-args", """{"source_spans": [[0, 2]], "target_spans": [[1, 3]]}""", "--save", folder.File("out.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        FeatureAttributionSequenceOutput actual = InseqJson.Load(folder.File("out.json")).SequenceAttributions[0];
        FeatureAttributionSequenceOutput expected = InseqJson.Load(Path.Combine(Dir, "agg_spans.json")).SequenceAttributions[0];
        Assert.Equal(expected.Source.Select(t => t.Token), actual.Source.Select(t => t.Token));
        Assert.Equal(expected.Target.Select(t => t.Token), actual.Target.Select(t => t.Token));
        Assert.True(expected.SourceAttributions!.AllClose(actual.SourceAttributions!, 1e-4, 1e-6), $"{actual.SourceAttributions} vs {expected.SourceAttributions}");
        Assert.True(expected.TargetAttributions!.AllClose(actual.TargetAttributions!, 1e-4, 1e-6));
    }

    [Fact]
    public void Rescale_attributions_flag_scales_the_default_aggregation_to_unit_maximum()
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--method", "saliency",
            "--input", "Hello world", "--generated", "Hello world, this is", "--rescale-attributions", "--save", folder.File("out.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        FeatureAttributionSequenceOutput sequence = InseqJson.Load(folder.File("out.json")).SequenceAttributions[0];
        Assert.Equal(2, sequence.TargetAttributions!.Rank);
        Assert.Equal(1f, sequence.TargetAttributions.ToArray().Where(v => !float.IsNaN(v)).Max(Math.Abs), 5);
    }

    [Fact]
    public void Pair_aggregator_compares_with_a_saved_output()
    {
        using var folder = new TemporaryFolder();
        string[] common = ["attribute", "--model", Fixtures.ModelDir("marian"), "--method", "saliency", "--tokenizer", "slow", "--attribute-target",
            "--step-scores", "probability", "--generated", "Le curseur se déplace sur la ligne."];
        CliResult paired = CliRunner.Run([.. common, "--input", "The cursor goes to the line.", "--save", folder.File("paired.json")]);
        Assert.True(paired.ExitCode == 0, paired.ToString());
        CliResult result = CliRunner.Run([.. common, "--input", "The cursor moves to the line.", "--aggregator", "scores,pair",
            "--aggregator-args", JsonSerializer.Serialize(new { paired_attr = folder.File("paired.json") }), "--save", folder.File("out.json")]);
        Assert.True(result.ExitCode == 0, result.ToString());
        FeatureAttributionSequenceOutput actual = InseqJson.Load(folder.File("out.json")).SequenceAttributions[0];
        FeatureAttributionSequenceOutput expected = InseqJson.Load(Path.Combine(Dir, "agg_pair.json")).SequenceAttributions[0];
        Assert.Equal(expected.Source.Select(t => t.Token), actual.Source.Select(t => t.Token));
        double scale = 1e-4 * InseqJson.Load(folder.File("paired.json")).SequenceAttributions[0].Aggregate(new ScoresAggregator()).SourceAttributions!.ToArray().Max(Math.Abs);
        Assert.True(expected.SourceAttributions!.AllClose(actual.SourceAttributions!, 1e-3, scale), $"{actual.SourceAttributions} vs {expected.SourceAttributions}");
    }

    [Theory]
    [InlineData("""{"target_spans": [[1, 3]]""", "scores,spans", "--aggregator-args is not valid JSON")]
    [InlineData("[1]", "scores,spans", "--aggregator-args must be a JSON object")]
    [InlineData("""{"split_mode": "end"}""", "split", "needs split_pattern")]
    [InlineData("""{"target_span": [[1, 3]]}""", "scores,spans", "'target_span' is taken by no aggregator")]
    [InlineData("""{"paired_attr": "missing.json"}""", "pair", "missing.json")]
    public void Bad_aggregator_arguments_fail_with_one_line(string json, string aggregators, string message)
    {
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--method", "saliency", "--input", "Hello",
            "--max-new-tokens", "2", "--aggregator", aggregators, "--aggregator-args", json);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }

    [Fact]
    public void Pair_with_a_file_of_other_lengths_fails_with_one_line()
    {
        using var folder = new TemporaryFolder();
        string[] common = ["attribute", "--model", Fixtures.ModelDir("gpt2"), "--method", "saliency"];
        CliResult paired = CliRunner.Run([.. common, "--input", "Hello", "--generated", "Hello world, this", "--save", folder.File("paired.json")]);
        Assert.True(paired.ExitCode == 0, paired.ToString());
        CliResult result = CliRunner.Run([.. common, "--input", "Hello", "--generated", "Hello world", "--aggregator", "scores,pair",
            "--aggregator-args", JsonSerializer.Serialize(new { paired_attr = folder.File("paired.json") })]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("does not match this attribution", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }

    [Fact]
    public void Scaling_flags_exclude_each_other_and_args_need_aggregators()
    {
        CliResult both = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello", "--max-new-tokens", "2",
            "--normalize-attributions", "--rescale-attributions");
        Assert.Contains("exclude each other", both.Error, StringComparison.Ordinal);
        CliResult orphan = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello", "--max-new-tokens", "2",
            "--aggregator-args", "{}");
        Assert.Contains("--aggregator-args needs --aggregator", orphan.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_the_new_flags()
    {
        CliResult help = CliRunner.Run("attribute", "--help");
        foreach (string flag in new[] { "--skip-special-tokens", "--clean-special-chars", "--generate-from-target-prefix", "--aggregator-args", "--normalize-attributions", "--rescale-attributions" })
        {
            Assert.Contains(flag, help.Output, StringComparison.Ordinal);
        }
    }
}
